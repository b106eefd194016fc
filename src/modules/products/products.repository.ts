import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { Dialect, dialectOf, forUpdate, Statement } from '../../database/dialect';
import { Product } from './entities/product.entity';

/** An active product as a stock write needs it. */
export interface StockedProduct {
  sku: string;
  reorderPoint: number;
}

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
  private readonly dialect: Dialect;

  constructor(private readonly dataSource: DataSource) {
    this.dialect = dialectOf(dataSource);
  }

  findActiveById(id: number, manager: EntityManager = this.dataSource.manager): Promise<Product | null> {
    return manager.findOneBy(Product, { id, archivedAt: IsNull() });
  }

  /** Archived or not: read filters name a product whose history stays readable. */
  findEverById(id: number): Promise<Product | null> {
    return this.dataSource.manager.findOneBy(Product, { id });
  }

  findEverBySku(sku: string): Promise<Product | null> {
    return this.dataSource.manager.findOneBy(Product, { skuKey: sku.toLowerCase() });
  }

  /** Product ids by lower-cased SKU, archived or not (a SKU and its id never change). */
  async findIdsBySkuKey(skuKeys: string[]): Promise<Map<string, number>> {
    if (!skuKeys.length) return new Map();
    const rows: { id: number; sku_key: string }[] = await this.dataSource.query(
      `SELECT id, sku_key FROM products WHERE sku_key IN (${skuKeys.map(() => '?').join(', ')})`,
      skuKeys,
    );
    return new Map(rows.map((r) => [r.sku_key, Number(r.id)]));
  }

  /**
   * Inside a stock write's transaction: the SKU and reorder point of each named product that is active
   * (an archived or unknown one is absent), locked exclusively: an archive or a reorder-point change
   * cannot slip in before COMMIT, and one stock write at a time sees the product's total available —
   * so each crossing of the reorder point yields exactly one stock.low or stock.restocked event.
   */
  lockForStock(ids: number[]): Statement<Map<number, StockedProduct>> {
    return {
      sql: `SELECT id, sku, reorder_point FROM products WHERE archived_at IS NULL AND id IN (${ids.map(() => '?').join(', ')})${this.dialect.forUpdate}`,
      params: ids,
      read: (rows) =>
        new Map(
          (rows as { id: number; sku: string; reorder_point: number }[]).map((p) => [
            Number(p.id),
            { sku: p.sku, reorderPoint: Number(p.reorder_point) },
          ]),
        ),
    };
  }

  lockActiveById(manager: EntityManager, id: number): Promise<Product | null> {
    const query = manager.createQueryBuilder(Product, 'p').where('p.id = :id AND p.archived_at IS NULL', { id });
    return forUpdate(query).getOne();
  }

  /** A page of active products with their on-hand: `onHandSql` sums it for `p.id` (stock's StockLevelsRepository). */
  async list(filter: ProductFilter, onHandSql: string): Promise<{ product: Product; onHand: number }[]> {
    const query = this.dataSource.manager
      .createQueryBuilder(Product, 'p')
      .addSelect(onHandSql, 'on_hand_total')
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
    if (filter.lowStock === true) query.andWhere(`${onHandSql} <= p.reorder_point`);
    if (filter.lowStock === false) query.andWhere(`${onHandSql} > p.reorder_point`);
    const { entities, raw } = await query.getRawAndEntities<{ on_hand_total: string | number }>();
    return entities.map((product, i) => ({ product, onHand: Number(raw[i].on_hand_total) }));
  }

  async insert(manager: EntityManager, product: Omit<Product, 'id'>): Promise<Product> {
    const result = await manager.insert(Product, { ...product }); // a copy: the driver may write back into it
    return { ...product, id: Number(result.identifiers[0].id) };
  }

  async update(manager: EntityManager, id: number, changes: Partial<Product>): Promise<void> {
    await manager.update(Product, { id }, changes);
  }
}
