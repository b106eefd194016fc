import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Dialect, dialectOf, Insert, InsertedIds, rawDate, Statement } from '../../database/dialect';
import { Transaction } from '../../database/transaction';
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

interface LevelLockRow {
  warehouse_id: number;
  product_id: number;
  on_hand: string | number;
}

/** What one request of a group commit writes besides its movements. */
export interface PersistEntry {
  /** Index of its first movement in the group's `movements`. */
  firstMovement: number;
  audit: {
    actor: { id: number; username: string; role: string };
    action: string;
    after: object;
    requestId: string;
    ip: string;
  };
  idempotency?: {
    userId: number;
    route: string;
    key: string;
    requestHash: string;
    responseStatus: number;
    responseBody: unknown;
  };
}

export interface PersistPlan {
  now: Date;
  levels: (LevelKey & { onHand: number })[];
  /** Every request's movements, request after request. */
  movements: Omit<StockMovement, 'id'>[];
  entries: PersistEntry[];
}

const MOVEMENT_COLUMNS = [
  'type',
  'product_id',
  'warehouse_id',
  'quantity',
  'balance_after',
  'reference',
  'note',
  'reason',
  'actor_id',
  'actor_username',
  'request_id',
  'created_at',
];

const movementValues = (m: Omit<StockMovement, 'id'>) => [
  m.type,
  m.productId,
  m.warehouseId,
  m.quantity,
  m.balanceAfter,
  m.reference,
  m.note,
  m.reason,
  m.actorId,
  m.actorUsername,
  m.requestId,
  m.createdAt,
];

/** The SQL of stock: levels (the locked rows) and the append-only movement ledger. */
@Injectable()
export class StockRepository {
  private readonly dialect: Dialect;

  constructor(private readonly dataSource: DataSource) {
    this.dialect = dialectOf(dataSource);
  }

  /** Product ids by lower-cased SKU, archived or not (a SKU and its id never change). */
  async findProductIdsBySkuKey(skuKeys: string[]): Promise<Map<string, number>> {
    if (!skuKeys.length) return new Map();
    const rows: { id: number; sku_key: string }[] = await this.dataSource.query(
      `SELECT id, sku_key FROM products WHERE sku_key IN (${skuKeys.map(() => '?').join(', ')})`,
      skuKeys,
    );
    return new Map(rows.map((r) => [r.sku_key, Number(r.id)]));
  }

  /**
   * The locking reads of a stock write, in one round trip with BEGIN on MySQL: the active products with
   * a shared lock (an archive, which takes the product row exclusively first, cannot slip in), then the
   * level rows `FOR UPDATE` in ascending (warehouse, product) order — the one order every stock write
   * uses. A missing level row that a write may add to (`mayAdd`) is created first, race-free; any other
   * missing level reads as 0 without a row — a write could only take from it, and is refused — so
   * refused writes never contend on creating rows nobody keeps.
   */
  async lockForWrite(
    tx: Transaction,
    productIds: number[],
    keys: LevelKey[],
    mayAdd: Set<string>,
    now: Date,
  ): Promise<{
    /** The SKU of each named product that is active; an archived or unknown one is absent. */
    skus: Map<number, string>;
    onHand: Map<string, number>;
    /** Level rows that did not exist: created here, at 0. */
    created: Set<string>;
  }> {
    const sorted = [...keys].sort(levelOrder);
    const [skus, found] = await tx.query([this.lockActiveSkus(productIds), this.lockLevels(sorted)]);
    // only for active products: a write naming another is refused and must leave no row behind
    const missing = sorted.filter(
      (k) => !found.has(levelKeyOf(k)) && skus.has(k.productId) && mayAdd.has(levelKeyOf(k)),
    );
    let onHand = found;
    if (missing.length) [, onHand] = await tx.query([this.insertMissingLevels(missing, now), this.lockLevels(sorted)]);
    const created = new Set(missing.map((k) => levelKeyOf(k)));
    // a level without a row (nobody may add to it here) reads as 0
    return { skus, created, onHand: new Map([...sorted.map((k): [string, number] => [levelKeyOf(k), 0]), ...onHand]) };
  }

  private lockActiveSkus(ids: number[]): Statement<Map<number, string>> {
    return {
      sql: `SELECT id, sku FROM products WHERE archived_at IS NULL AND id IN (${ids.map(() => '?').join(', ')})${this.dialect.shareLock}`,
      params: ids,
      read: (rows) => new Map((rows as { id: number; sku: string }[]).map((p) => [Number(p.id), p.sku])),
    };
  }

  private lockLevels(keys: LevelKey[]): Statement<Map<string, number>> {
    return {
      sql:
        'SELECT warehouse_id, product_id, on_hand FROM stock_levels WHERE ' +
        keys.map(() => '(warehouse_id = ? AND product_id = ?)').join(' OR ') +
        ` ORDER BY warehouse_id, product_id${this.dialect.forUpdate}`,
      params: keys.flatMap((k) => [k.warehouseId, k.productId]),
      read: (rows) =>
        new Map(
          (rows as LevelLockRow[]).map((r) => [
            levelKeyOf({ warehouseId: Number(r.warehouse_id), productId: Number(r.product_id) }),
            Number(r.on_hand),
          ]),
        ),
    };
  }

  /** INSERT IGNORE: two requests creating the same level both succeed, and one row results. */
  private insertMissingLevels(keys: LevelKey[], now: Date): Statement {
    return {
      sql: `${this.dialect.insertIgnore} INTO stock_levels (warehouse_id, product_id, on_hand, updated_at) VALUES ${keys.map(() => '(?, ?, 0, ?)').join(', ')}`,
      params: keys.flatMap((k) => [k.warehouseId, k.productId, now]),
    };
  }

  /**
   * The writes of a group of stock writes and its COMMIT: levels, movements, and each request's audit
   * entry and idempotent answer, in one round trip on MySQL so the row locks are held for as short a
   * time as possible. Movement ids inside the audit entries and answers are placeholders, filled in as
   * the dialect says (see InsertedIds). Returns the first movement's id.
   */
  persist(tx: Transaction, plan: PersistPlan): Promise<number> {
    const levels = plan.levels.map((level) => ({
      sql: 'UPDATE stock_levels SET on_hand = ?, updated_at = ? WHERE warehouse_id = ? AND product_id = ?',
      params: [level.onHand, plan.now, level.warehouseId, level.productId],
    }));
    return tx.commitWithInsert(levels, this.appendMovements(plan.movements), (ids) => [
      this.appendAudits(plan, ids),
      ...this.rememberAnswers(plan, ids),
    ]);
  }

  private appendMovements(movements: PersistPlan['movements']): Insert {
    const row = `(${MOVEMENT_COLUMNS.map(() => '?').join(', ')})`;
    return {
      sql: `INSERT INTO stock_movements (${MOVEMENT_COLUMNS.join(', ')}) VALUES ${movements.map(() => row).join(', ')}`,
      params: movements.flatMap(movementValues),
      rows: movements.length,
    };
  }

  private appendAudits(plan: PersistPlan, ids: InsertedIds): Statement {
    const params: unknown[] = [];
    const rows = plan.entries.map(({ audit, firstMovement }) => {
      const entityId = ids.id(firstMovement);
      const after = ids.json(audit.after);
      params.push(plan.now, audit.actor.id, audit.actor.username, audit.actor.role, audit.action);
      params.push(...entityId.params, ...after.params, audit.requestId, audit.ip);
      return `(?, ?, ?, ?, ?, 'movement', ${entityId.sql}, NULL, ${after.sql}, ?, ?)`;
    });
    return {
      sql: `INSERT INTO audit_logs (at, actor_id, actor_username, actor_role, action, entity_type, entity_id, \`before\`, \`after\`, request_id, ip) VALUES ${rows.join(', ')}`,
      params,
    };
  }

  private rememberAnswers(plan: PersistPlan, ids: InsertedIds): Statement[] {
    const params: unknown[] = [];
    const rows = plan.entries.flatMap(({ idempotency }) => {
      if (!idempotency) return [];
      const body = ids.json(idempotency.responseBody);
      const { userId, route, key, requestHash, responseStatus } = idempotency;
      params.push(userId, route, key, requestHash, responseStatus, ...body.params, plan.now);
      return [`(?, ?, ?, ?, ?, ${body.sql}, ?)`];
    });
    if (!rows.length) return [];
    const sql = `INSERT INTO idempotency_keys (user_id, route, idempotency_key, request_hash, response_status, response_body, created_at) VALUES ${rows.join(', ')}`;
    return [{ sql, params }];
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
      updatedAt: rawDate(r.updated_at),
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
}

export function levelKeyOf(key: LevelKey): string {
  return `${key.warehouseId}:${key.productId}`;
}
