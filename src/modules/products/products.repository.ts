import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, In, IsNull } from 'typeorm';
import { Dialect, dialectOf, forUpdate, runStatements, Statement } from '../../database/dialect';
import { Product } from './entities/product.entity';
import { ProductTerm } from './entities/product-term.entity';
import { searchTermsOf, termsOf } from '../../common/search-terms';

/** An active product as a stock write needs it. */
export interface StockedProduct {
  sku: string;
  reorderPoint: number;
  /** The stored low flag (products.low), which the write corrects when its total available crosses over. */
  low: boolean;
}

export interface ProductFilter {
  afterId: number | null;
  take: number;
  search?: string;
  skuKey?: string;
  lowStock?: boolean;
}

const TERM_ROWS_PER_INSERT = 1000;

@Injectable()
export class ProductsRepository {
  private readonly dialect: Dialect;

  constructor(private readonly dataSource: DataSource) {
    this.dialect = dialectOf(dataSource);
  }

  findActiveById(id: number, manager: EntityManager = this.dataSource.manager): Promise<Product | null> {
    return manager.findOneBy(Product, { id, archivedAt: IsNull() });
  }

  /** The active ones of these products (an archived or unknown id is absent). */
  findActiveByIds(ids: number[]): Promise<Product[]> {
    if (!ids.length) return Promise.resolve([]);
    return this.dataSource.manager.findBy(Product, { id: In(ids), archivedAt: IsNull() });
  }

  /** Archived or not: read filters name a product whose history stays readable. */
  findEverById(id: number): Promise<Product | null> {
    return this.dataSource.manager.findOneBy(Product, { id });
  }

  findEverBySku(sku: string): Promise<Product | null> {
    return this.dataSource.manager.findOneBy(Product, { skuKey: sku.toLowerCase() });
  }

  /** Product ids by lower-cased SKU, archived or not (a SKU and its id never change). */
  async findIdsBySkuKey(
    skuKeys: string[],
    manager: EntityManager = this.dataSource.manager,
  ): Promise<Map<string, number>> {
    if (!skuKeys.length) return new Map();
    const rows: { id: number; sku_key: string }[] = await manager.query(
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
      sql: `SELECT id, sku, reorder_point, low FROM products WHERE archived_at IS NULL AND id IN (${ids.map(() => '?').join(', ')})${this.dialect.forUpdate}`,
      params: ids,
      read: (rows) =>
        new Map(
          (rows as { id: number; sku: string; reorder_point: number; low: number | boolean }[]).map((p) => [
            Number(p.id),
            { sku: p.sku, reorderPoint: Number(p.reorder_point), low: Boolean(Number(p.low)) },
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
    if (filter.search !== undefined) {
      const ids = await this.searchIds(filter);
      if (!ids.length) return [];
      query.andWhere('p.id IN (:...ids)', { ids });
    } else {
      if (filter.afterId !== null) query.andWhere('p.id > :afterId', { afterId: filter.afterId });
      if (filter.skuKey !== undefined) query.andWhere('p.sku_key = :skuKey', { skuKey: filter.skuKey });
      if (filter.lowStock !== undefined) query.andWhere('p.low = :low', { low: filter.lowStock });
    }
    const { entities, raw } = await query.getRawAndEntities<{ on_hand_total: string | number }>();
    return entities.map((product, i) => ({ product, onHand: Number(raw[i].on_hand_total) }));
  }

  /**
   * The ids of a search's page, ascending: those whose SKU starts with it, merged with those whose name
   * has every word of it at a word's start. Each side walks one term of product_terms in id order
   * (the other words, the other filters and archived_at checked row by row, by key), so a page reads
   * about `take` rows whatever the catalogue's size.
   */
  private async searchIds(filter: ProductFilter): Promise<number[]> {
    const { sku, words } = searchTermsOf(filter.search!);
    const others: string[] = ['p.archived_at IS NULL'];
    const otherParams: unknown[] = [];
    if (filter.skuKey !== undefined) {
      others.push('p.sku_key = ?');
      otherParams.push(filter.skuKey);
    }
    if (filter.lowStock !== undefined) {
      others.push('p.low = ?');
      otherParams.push(filter.lowStock ? 1 : 0);
    }
    const after = filter.afterId ?? 0;
    const walk = async (term: string, alsoTerms: string[]): Promise<number[]> => {
      const exists = alsoTerms.map(
        (_, i) =>
          `AND EXISTS (SELECT 1 FROM product_terms t${i} WHERE t${i}.term = ? AND t${i}.product_id = t.product_id)`,
      );
      const rows: { id: number }[] = await this.dataSource.query(
        `SELECT t.product_id AS id FROM product_terms t JOIN products p ON p.id = t.product_id
         WHERE t.term = ? AND t.product_id > ? ${exists.join(' ')} AND ${others.join(' AND ')}
         ORDER BY t.product_id LIMIT ${filter.take}`,
        [term, after, ...alsoTerms, ...otherParams],
      );
      return rows.map((r) => Number(r.id));
    };
    const sides: Promise<number[]>[] = [];
    if (words.length) sides.push(walk(words[0], words.slice(1)));
    if (sku && 'term' in sku) sides.push(walk(sku.term, []));
    if (sku && 'like' in sku) {
      // longer than any indexed prefix: few SKUs start so, found by the SKU's own index
      sides.push(
        this.dataSource
          .query(
            `SELECT p.id FROM products p WHERE p.sku_key LIKE ? ESCAPE '!' AND p.id > ? AND ${others.join(' AND ')} ORDER BY p.id LIMIT ${filter.take}`,
            [sku.like, after, ...otherParams],
          )
          .then((rows: { id: number }[]) => rows.map((r) => Number(r.id))),
      );
    }
    const ids = [...new Set((await Promise.all(sides)).flat())].sort((a, b) => a - b);
    return ids.slice(0, filter.take);
  }

  /**
   * New products' search terms, in multi-row INSERTs. Nothing is deleted first: deleting nothing would
   * take a gap lock at the index's end that makes concurrent creates deadlock on MySQL.
   */
  async indexNewTerms(manager: EntityManager, products: Pick<Product, 'id' | 'sku' | 'name'>[]): Promise<void> {
    // plain INSERTs of ~30 terms a product: TypeORM's insert builder, whose time grows with the square
    // of a statement's values, took most of a CSV import's CPU here. All in one round trip on MySQL
    // (a 1,000-product chunk: ~40 statements, ~1.5 MB, far below max_allowed_packet's 16 MB default)
    const rows = products.flatMap((p) => termsOf(p.sku, p.name).map((term) => [term, p.id]));
    const statements = [];
    for (let i = 0; i < rows.length; i += TERM_ROWS_PER_INSERT) {
      const chunk = rows.slice(i, i + TERM_ROWS_PER_INSERT);
      const sql = `INSERT INTO product_terms (term, product_id) VALUES ${chunk.map(() => '(?, ?)').join(', ')}`;
      statements.push({ sql, params: chunk.flat() });
    }
    await runStatements(manager, statements);
  }

  /** A renamed product's search terms (its SKU never changes). */
  async reindexTerms(manager: EntityManager, product: Pick<Product, 'id' | 'sku' | 'name'>): Promise<void> {
    await this.removeTerms(manager, product.id);
    await this.indexNewTerms(manager, [product]);
  }

  /** An archived product is found by no search. */
  async removeTerms(manager: EntityManager, productId: number): Promise<void> {
    await manager.delete(ProductTerm, { productId });
  }

  /** For a stock write whose products' low flag no longer holds: which are low now. */
  setLow(changes: Map<number, boolean>): Statement {
    const ids = [...changes.keys()];
    return {
      sql: `UPDATE products SET low = CASE id ${ids.map(() => 'WHEN ? THEN ?').join(' ')} END WHERE id IN (${ids.map(() => '?').join(', ')})`,
      params: [...ids.flatMap((id) => [id, changes.get(id) ? 1 : 0]), ...ids],
    };
  }

  /** Inserts products in one statement; their ids are read back by SKU (the driver's ids of a multi-row insert are not portable). */
  async insertMany(manager: EntityManager, products: Omit<Product, 'id'>[]): Promise<Product[]> {
    const columns =
      'sku, sku_key, name, description, unit, reorder_point, version, created_at, updated_at, archived_at, low';
    await runStatements(manager, [
      {
        sql: `INSERT INTO products (${columns}) VALUES ${products.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        params: products.flatMap((p) => [
          ...[p.sku, p.skuKey, p.name, p.description, p.unit, p.reorderPoint, p.version],
          ...[p.createdAt, p.updatedAt, p.archivedAt, p.low ? 1 : 0],
        ]),
      },
    ]);
    const ids = await this.findIdsBySkuKey(
      products.map((p) => p.skuKey),
      manager,
    );
    return products.map((p) => ({ ...p, id: ids.get(p.skuKey)! }));
  }

  async update(manager: EntityManager, id: number, changes: Partial<Product>): Promise<void> {
    await manager.update(Product, { id }, changes);
  }
}
