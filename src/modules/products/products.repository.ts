import { Injectable } from '@nestjs/common';
import { forUpdate } from '../../database/dialect';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { StockLevel } from '../stock/entities/stock-level.entity';
import { Warehouse } from '../warehouses/entities/warehouse.entity';
import { Product } from './entities/product.entity';

/** A product's on-hand summed over warehouses, as a correlated subquery on alias `p`. */
const ON_HAND_SUM = '(SELECT COALESCE(SUM(l.on_hand), 0) FROM stock_levels l WHERE l.product_id = p.id)';

export interface ProductFilter {
  afterId: number | null;
  take: number;
  search?: string;
  skuKey?: string;
  lowStock?: boolean;
}

/** LIKE pattern for a substring match, escaping the pattern characters with `!` (portable on both drivers). */
function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[!%_]/g, (c) => `!${c}`)}%`;
}

@Injectable()
export class ProductsRepository {
  constructor(private readonly dataSource: DataSource) {}

  findActiveById(id: number, manager: EntityManager = this.dataSource.manager): Promise<Product | null> {
    return manager.findOneBy(Product, { id, archivedAt: IsNull() });
  }

  findActiveBySku(sku: string): Promise<Product | null> {
    return this.dataSource.manager.findOneBy(Product, { skuKey: sku.toLowerCase(), archivedAt: IsNull() });
  }

  lockActiveById(manager: EntityManager, id: number): Promise<Product | null> {
    const query = manager.createQueryBuilder(Product, 'p').where('p.id = :id AND p.archived_at IS NULL', { id });
    return forUpdate(query).getOne();
  }

  async list(filter: ProductFilter): Promise<{ product: Product; onHand: number }[]> {
    const query = this.dataSource.manager
      .createQueryBuilder(Product, 'p')
      .addSelect(ON_HAND_SUM, 'on_hand_total')
      .where('p.archived_at IS NULL')
      .orderBy('p.id', 'ASC')
      .limit(filter.take);
    if (filter.afterId !== null) query.andWhere('p.id > :afterId', { afterId: filter.afterId });
    if (filter.skuKey !== undefined) query.andWhere('p.sku_key = :skuKey', { skuKey: filter.skuKey });
    if (filter.search !== undefined) {
      query.andWhere("(p.sku_key LIKE :pattern ESCAPE '!' OR LOWER(p.name) LIKE :pattern ESCAPE '!')", {
        pattern: containsPattern(filter.search),
      });
    }
    if (filter.lowStock === true) query.andWhere(`${ON_HAND_SUM} <= p.reorder_point`);
    if (filter.lowStock === false) query.andWhere(`${ON_HAND_SUM} > p.reorder_point`);
    const { entities, raw } = await query.getRawAndEntities<{ on_hand_total: string | number }>();
    return entities.map((product, i) => ({ product, onHand: Number(raw[i].on_hand_total) }));
  }

  /** Per-warehouse levels of one product, in warehouse code order. */
  async stockByWarehouse(productId: number, manager: EntityManager = this.dataSource.manager) {
    const rows = await manager
      .createQueryBuilder(StockLevel, 'l')
      .innerJoin(Warehouse, 'w', 'w.id = l.warehouse_id')
      .select(['w.code AS warehouse', 'l.on_hand AS on_hand'])
      .where('l.product_id = :productId', { productId })
      .orderBy('w.code', 'ASC')
      .getRawMany<{ warehouse: string; on_hand: string | number }>();
    return rows.map((row) => ({ warehouse: row.warehouse, onHand: Number(row.on_hand) }));
  }

  /** Locks the product's level rows (MySQL) and sums them: the delete check cannot race a stock-in. */
  async lockedOnHand(manager: EntityManager, productId: number): Promise<number> {
    const query = manager
      .createQueryBuilder(StockLevel, 'l')
      .select('l.on_hand', 'on_hand')
      .where('l.product_id = :productId', { productId });
    const rows = await forUpdate(query).getRawMany<{ on_hand: string | number }>();
    return rows.reduce((sum, row) => sum + Number(row.on_hand), 0);
  }

  async insert(manager: EntityManager, product: Omit<Product, 'id'>): Promise<Product> {
    const result = await manager.insert(Product, { ...product }); // a copy: the driver may write back into it
    return { ...product, id: Number(result.identifiers[0].id) };
  }

  async update(manager: EntityManager, id: number, changes: Partial<Product>): Promise<void> {
    await manager.update(Product, { id }, changes);
  }
}
