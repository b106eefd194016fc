import { Injectable } from '@nestjs/common';
import { Brackets, DataSource, EntityManager } from 'typeorm';
import { forUpdate } from '../../database/row-lock';
import { Product } from '../products/entities/product.entity';
import { Warehouse } from '../warehouses/entities/warehouse.entity';
import { StockLevel } from './entities/stock-level.entity';
import { MovementType, StockMovement } from './entities/stock-movement.entity';

export interface LevelKey {
  warehouseId: number;
  productId: number;
}

export interface LevelRow extends LevelKey {
  sku: string;
  warehouse: string;
  onHand: number;
  updatedAt: Date;
}

export interface MovementRow extends StockMovement {
  sku: string;
  warehouse: string;
}

export interface MovementFilter {
  productId?: number;
  warehouseId?: number;
  type?: MovementType;
  from?: Date;
  to?: Date;
  beforeId: number | null;
  take: number;
}

export interface LevelFilter {
  productId?: number;
  warehouseId?: number;
  after: LevelKey | null;
  take: number;
}

export interface LedgerCheck extends LevelKey {
  warehouse: string;
  onHand: number;
  ledgerSum: number;
  firstBadMovementId: number | null;
}

const levelOrder = (a: LevelKey, b: LevelKey) => a.warehouseId - b.warehouseId || a.productId - b.productId;

/** The SQL of stock: levels (the locked rows) and the append-only movement ledger. */
@Injectable()
export class StockRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Active products named by id or SKU, read with a shared lock on MySQL: an archive (which takes the
   * product row exclusively first) cannot slip in between this check and the stock write.
   */
  findActiveProductsShared(manager: EntityManager, ids: number[], skuKeys: string[]): Promise<Product[]> {
    const query = manager
      .createQueryBuilder(Product, 'p')
      .where('p.archived_at IS NULL')
      .andWhere(
        new Brackets((q) => {
          if (ids.length) q.orWhere('p.id IN (:...ids)', { ids });
          if (skuKeys.length) q.orWhere('p.sku_key IN (:...skuKeys)', { skuKeys });
        }),
      )
      .orderBy('p.id', 'ASC');
    if (manager.connection.options.type !== 'better-sqlite3') query.setLock('pessimistic_read');
    return query.getMany();
  }

  /**
   * Locks the level rows (`SELECT … FOR UPDATE` in ascending warehouse, product order, the one order
   * every stock write uses) and returns their on-hand; a missing row is created first, race-free.
   */
  async lockLevels(manager: EntityManager, keys: LevelKey[], now: Date): Promise<Map<string, number>> {
    const sorted = [...keys].sort(levelOrder);
    let rows = await this.selectLevelsForUpdate(manager, sorted);
    if (rows.length < sorted.length) {
      const found = new Set(rows.map(levelKeyOf));
      const missing = sorted.filter((k) => !found.has(levelKeyOf(k)));
      await this.insertMissingLevels(manager, missing, now);
      rows = await this.selectLevelsForUpdate(manager, sorted);
    }
    return new Map(rows.map((row) => [levelKeyOf(row), row.onHand]));
  }

  private async selectLevelsForUpdate(
    manager: EntityManager,
    keys: LevelKey[],
  ): Promise<(LevelKey & { onHand: number })[]> {
    const query = manager
      .createQueryBuilder(StockLevel, 'l')
      .select(['l.warehouse_id AS warehouse_id', 'l.product_id AS product_id', 'l.on_hand AS on_hand'])
      .where(
        new Brackets((q) =>
          keys.forEach((k, i) =>
            q.orWhere(`(l.warehouse_id = :w${i} AND l.product_id = :p${i})`, {
              [`w${i}`]: k.warehouseId,
              [`p${i}`]: k.productId,
            }),
          ),
        ),
      )
      .orderBy('l.warehouse_id', 'ASC')
      .addOrderBy('l.product_id', 'ASC');
    const rows = await forUpdate(query).getRawMany<{
      warehouse_id: number;
      product_id: number;
      on_hand: string | number;
    }>();
    return rows.map((r) => ({
      warehouseId: Number(r.warehouse_id),
      productId: Number(r.product_id),
      onHand: Number(r.on_hand),
    }));
  }

  /** INSERT IGNORE: two requests creating the same level both succeed, and one row results. */
  private async insertMissingLevels(manager: EntityManager, keys: LevelKey[], now: Date): Promise<void> {
    await manager
      .createQueryBuilder()
      .insert()
      .into(StockLevel)
      .values(keys.map((k) => ({ ...k, onHand: 0, updatedAt: now })))
      .orIgnore()
      .execute();
  }

  async saveLevel(manager: EntityManager, key: LevelKey, onHand: number, now: Date): Promise<void> {
    await manager.update(
      StockLevel,
      { warehouseId: key.warehouseId, productId: key.productId },
      { onHand, updatedAt: now },
    );
  }

  /** One INSERT per movement: each id is exact, whatever the server's auto-increment lock mode. */
  async appendMovement(manager: EntityManager, movement: Omit<StockMovement, 'id'>): Promise<StockMovement> {
    const result = await manager.insert(StockMovement, { ...movement }); // a copy: the driver may write back into it
    return { ...movement, id: Number(result.identifiers[0].id) };
  }

  async listLevels(filter: LevelFilter): Promise<LevelRow[]> {
    const query = this.dataSource.manager
      .createQueryBuilder(StockLevel, 'l')
      .innerJoin(Product, 'p', 'p.id = l.product_id')
      .innerJoin(Warehouse, 'w', 'w.id = l.warehouse_id')
      .select([
        'l.warehouse_id AS warehouse_id',
        'l.product_id AS product_id',
        'l.on_hand AS on_hand',
        'l.updated_at AS updated_at',
        'p.sku AS sku',
        'w.code AS warehouse',
      ])
      .where('p.archived_at IS NULL')
      .orderBy('l.product_id', 'ASC')
      .addOrderBy('l.warehouse_id', 'ASC')
      .limit(filter.take);
    if (filter.productId !== undefined) query.andWhere('l.product_id = :productId', { productId: filter.productId });
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
      updatedAt: this.toDate(r.updated_at),
      sku: String(r.sku),
      warehouse: String(r.warehouse),
    }));
  }

  /** Newest first (id descending): stable under inserts, which only ever add newer ids. */
  async listMovements(filter: MovementFilter): Promise<MovementRow[]> {
    const query = this.dataSource.manager
      .createQueryBuilder(StockMovement, 'm')
      .innerJoin(Product, 'p', 'p.id = m.product_id')
      .innerJoin(Warehouse, 'w', 'w.id = m.warehouse_id')
      .addSelect(['p.sku AS m_sku', 'w.code AS m_warehouse'])
      .orderBy('m.id', 'DESC')
      .limit(filter.take);
    if (filter.beforeId !== null) query.andWhere('m.id < :beforeId', { beforeId: filter.beforeId });
    if (filter.productId !== undefined) query.andWhere('m.product_id = :productId', { productId: filter.productId });
    if (filter.warehouseId !== undefined) {
      query.andWhere('m.warehouse_id = :warehouseId', { warehouseId: filter.warehouseId });
    }
    if (filter.type !== undefined) query.andWhere('m.type = :type', { type: filter.type });
    if (filter.from !== undefined) query.andWhere('m.created_at >= :from', { from: filter.from });
    if (filter.to !== undefined) query.andWhere('m.created_at <= :to', { to: filter.to });
    const { entities, raw } = await query.getRawAndEntities<{ m_sku: string; m_warehouse: string }>();
    return entities.map((m, i) => ({ ...m, sku: raw[i].m_sku, warehouse: raw[i].m_warehouse }));
  }

  /**
   * For every level: on-hand against the sum of its movements, and the first movement whose
   * balanceAfter is not the running sum in id order.
   */
  async checkLedger(): Promise<{ checked: number; mismatches: LedgerCheck[] }> {
    const rows: Record<string, string | number | null>[] = await this.dataSource.query(`
      SELECT l.product_id, l.warehouse_id, w.code AS warehouse, l.on_hand,
             COALESCE(m.ledger_sum, 0) AS ledger_sum, m.first_bad_id
      FROM stock_levels l
      JOIN warehouses w ON w.id = l.warehouse_id
      LEFT JOIN (
        SELECT product_id, warehouse_id, SUM(quantity) AS ledger_sum,
               MIN(CASE WHEN balance_after <> running THEN id END) AS first_bad_id
        FROM (
          SELECT id, product_id, warehouse_id, quantity, balance_after,
                 SUM(quantity) OVER (PARTITION BY product_id, warehouse_id ORDER BY id) AS running
          FROM stock_movements
        ) ledger
        GROUP BY product_id, warehouse_id
      ) m ON m.product_id = l.product_id AND m.warehouse_id = l.warehouse_id
      ORDER BY l.product_id, l.warehouse_id`);
    const checks = rows.map((r) => ({
      productId: Number(r.product_id),
      warehouseId: Number(r.warehouse_id),
      warehouse: String(r.warehouse),
      onHand: Number(r.on_hand),
      ledgerSum: Number(r.ledger_sum),
      firstBadMovementId: r.first_bad_id === null ? null : Number(r.first_bad_id),
    }));
    return {
      checked: checks.length,
      mismatches: checks.filter((c) => c.onHand !== c.ledgerSum || c.firstBadMovementId !== null),
    };
  }

  /** SQLite hands raw datetimes back as UTC text without a zone. */
  private toDate(value: string | number | Date): Date {
    if (value instanceof Date) return value;
    return new Date(typeof value === 'string' && !value.endsWith('Z') ? `${value.replace(' ', 'T')}Z` : value);
  }
}

export function levelKeyOf(key: LevelKey): string {
  return `${key.warehouseId}:${key.productId}`;
}
