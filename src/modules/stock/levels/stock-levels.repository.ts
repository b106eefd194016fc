import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Dialect, dialectOf, forUpdate, rawDate, Statement } from '../../../database/dialect';
import { StockLevel } from './entities/stock-level.entity';
import { LevelKey, levelKeyOf, LevelState } from './level-key';

export interface LevelRow extends LevelKey {
  sku: string;
  warehouse: string;
  onHand: number;
  reserved: number;
  updatedAt: Date;
}

export interface LevelFilter {
  productId?: number;
  warehouseId?: number;
  after: LevelKey | null;
  take: number;
}

interface LevelLockRow {
  warehouse_id: number;
  product_id: number;
  on_hand: string | number;
  reserved: string | number;
}

/**
 * The SQL of stock_levels, one row per warehouse × product: the rows the stock write path locks and
 * sets, and the reads of on-hand that products and GET /api/stock make. Reads join products and
 * warehouses by table name only to name a level (its SKU, its warehouse code).
 */
@Injectable()
export class StockLevelsRepository {
  private readonly dialect: Dialect;

  constructor(private readonly dataSource: DataSource) {
    this.dialect = dialectOf(dataSource);
  }

  /**
   * The rows of `keys` (sorted by levelOrder) `FOR UPDATE`, in that order — the one order every stock
   * write uses; reads each one's on-hand and reserved. A level without a row is absent.
   */
  lockForUpdate(keys: LevelKey[]): Statement<Map<string, LevelState>> {
    // one product list per warehouse: MariaDB's range analysis of one OR per level took 15 ms for 500
    const products = new Map<number, number[]>();
    for (const k of keys) {
      const ids = products.get(k.warehouseId);
      if (ids) ids.push(k.productId);
      else products.set(k.warehouseId, [k.productId]);
    }
    const byWarehouse = [...products];
    return {
      sql:
        'SELECT warehouse_id, product_id, on_hand, reserved FROM stock_levels WHERE ' +
        byWarehouse
          .map(([, ids]) => `(warehouse_id = ? AND product_id IN (${ids.map(() => '?').join(', ')}))`)
          .join(' OR ') +
        ` ORDER BY warehouse_id, product_id${this.dialect.forUpdate}`,
      params: byWarehouse.flatMap(([warehouseId, ids]) => [warehouseId, ...ids]),
      read: (rows) =>
        new Map(
          (rows as LevelLockRow[]).map((r) => [
            levelKeyOf({ warehouseId: Number(r.warehouse_id), productId: Number(r.product_id) }),
            { onHand: Number(r.on_hand), reserved: Number(r.reserved) },
          ]),
        ),
    };
  }

  /** Creates the levels at 0, skipping existing ones: two requests creating the same level both succeed, and one row results. */
  insertMissing(keys: LevelKey[], now: Date): Statement {
    return {
      sql: `${this.dialect.insertIgnore} INTO stock_levels (warehouse_id, product_id, on_hand, updated_at) VALUES ${keys.map(() => '(?, ?, 0, ?)').join(', ')}`,
      params: keys.flatMap((k) => [k.warehouseId, k.productId, now]),
    };
  }

  /** Sets each level's on-hand and reserved; `now` is its updatedAt. */
  setLevels(levels: (LevelKey & LevelState)[], now: Date): Statement[] {
    return levels.map((level) => ({
      sql: 'UPDATE stock_levels SET on_hand = ?, reserved = ?, updated_at = ? WHERE warehouse_id = ? AND product_id = ?',
      params: [level.onHand, level.reserved, now, level.warehouseId, level.productId],
    }));
  }

  /** SQL for a product's on-hand summed over its warehouses, `productId` being a column of the enclosing query. */
  onHandTotalSql(productId: string): string {
    return `(SELECT COALESCE(SUM(l.on_hand), 0) FROM stock_levels l WHERE l.product_id = ${productId})`;
  }

  /**
   * Each product's on hand and reserved summed over its warehouses (absent: no level row). In a stock
   * write's transaction once it holds the products' locks, every earlier write to them has committed.
   */
  totals(productIds: number[]): Statement<Map<number, LevelState>> {
    return {
      sql: `SELECT product_id, SUM(on_hand) AS on_hand, SUM(reserved) AS reserved FROM stock_levels WHERE product_id IN (${productIds.map(() => '?').join(', ')}) GROUP BY product_id`,
      params: productIds,
      read: (rows) =>
        new Map(
          (rows as { product_id: number; on_hand: string | number; reserved: string | number }[]).map((r) => [
            Number(r.product_id),
            { onHand: Number(r.on_hand), reserved: Number(r.reserved) },
          ]),
        ),
    };
  }

  /** `totals` outside a transaction (a page of an export: each row's figures from one statement). */
  async totalsOf(productIds: number[]): Promise<Map<number, LevelState>> {
    if (!productIds.length) return new Map();
    const { sql, params, read } = this.totals(productIds);
    return read!(await this.dataSource.query(sql, params));
  }

  /** Per-warehouse levels of one product, in warehouse code order. */
  async byWarehouse(productId: number, manager: EntityManager = this.dataSource.manager) {
    return (await this.byWarehouseOf([productId], manager)).get(productId) ?? [];
  }

  /** Per-warehouse levels of each product (absent: none), in warehouse code order. */
  async byWarehouseOf(productIds: number[], manager: EntityManager = this.dataSource.manager) {
    const levels = new Map<number, { warehouse: string; onHand: number }[]>();
    if (!productIds.length) return levels;
    const rows = await manager
      .createQueryBuilder(StockLevel, 'l')
      .innerJoin('warehouses', 'w', 'w.id = l.warehouse_id')
      .select(['l.product_id AS product_id', 'w.code AS warehouse', 'l.on_hand AS on_hand'])
      .where('l.product_id IN (:...productIds)', { productIds })
      .orderBy('w.code', 'ASC')
      .getRawMany<{ product_id: string | number; warehouse: string; on_hand: string | number }>();
    for (const row of rows) {
      const productId = Number(row.product_id);
      const level = { warehouse: row.warehouse, onHand: Number(row.on_hand) };
      const ofProduct = levels.get(productId);
      if (ofProduct) ofProduct.push(level);
      else levels.set(productId, [level]);
    }
    return levels;
  }

  /** Locks the product's level rows (MySQL) and sums them: an archive's check cannot race a stock write. */
  async lockedTotals(manager: EntityManager, productId: number): Promise<LevelState> {
    const query = manager
      .createQueryBuilder(StockLevel, 'l')
      .select(['l.on_hand AS on_hand', 'l.reserved AS reserved'])
      .where('l.product_id = :productId', { productId });
    const rows = await forUpdate(query).getRawMany<{ on_hand: string | number; reserved: string | number }>();
    return {
      onHand: rows.reduce((sum, row) => sum + Number(row.on_hand), 0),
      reserved: rows.reduce((sum, row) => sum + Number(row.reserved), 0),
    };
  }

  /** Levels, keyset on (product, warehouse): of active products, or of the one named (archived or not). */
  async list(filter: LevelFilter): Promise<LevelRow[]> {
    const query = this.dataSource.manager
      .createQueryBuilder(StockLevel, 'l')
      .innerJoin('products', 'p', 'p.id = l.product_id')
      .innerJoin('warehouses', 'w', 'w.id = l.warehouse_id')
      .select([
        'l.warehouse_id AS warehouse_id',
        'l.product_id AS product_id',
        'l.on_hand AS on_hand',
        'l.reserved AS reserved',
        'l.updated_at AS updated_at',
        'p.sku AS sku',
        'w.code AS warehouse',
      ])
      .orderBy('l.product_id', 'ASC')
      .addOrderBy('l.warehouse_id', 'ASC')
      .limit(filter.take);
    // an archived product's levels leave the list, but answer when it is named
    if (filter.productId !== undefined) query.andWhere('l.product_id = :productId', { productId: filter.productId });
    else query.andWhere('p.archived_at IS NULL');
    if (filter.warehouseId !== undefined) {
      query.andWhere('l.warehouse_id = :warehouseId', { warehouseId: filter.warehouseId });
    }
    if (filter.after) {
      query.andWhere('(l.product_id > :ap OR (l.product_id = :ap AND l.warehouse_id > :aw))', {
        ap: filter.after.productId,
        aw: filter.after.warehouseId,
      });
    }
    const rows = await query.getRawMany<Record<string, string | number | Date>>();
    return rows.map((r) => ({
      warehouseId: Number(r.warehouse_id),
      productId: Number(r.product_id),
      onHand: Number(r.on_hand),
      reserved: Number(r.reserved),
      updatedAt: rawDate(r.updated_at),
      sku: String(r.sku),
      warehouse: String(r.warehouse),
    }));
  }
}
