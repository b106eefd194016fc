import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { dialectOf, rawDate } from '../../database/dialect';
import { AuditLog } from '../audit/entities/audit-log.entity';
import { Product } from '../products/entities/product.entity';
import { Warehouse } from '../warehouses/entities/warehouse.entity';
import { IdempotencyKey } from './entities/idempotency-key.entity';
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
  /** Appended to the writes (MySQL: COMMIT in the same round trip); empty where the caller commits. */
  commit: string;
  levels: (LevelKey & { onHand: number })[];
  /** Every request's movements, request after request. */
  movements: Omit<StockMovement, 'id'>[];
  entries: PersistEntry[];
}

/**
 * Before COMMIT a movement's id is not known: views carry MOVEMENT_ID(i) = -(i+1) instead, a value
 * no real id takes, and these placeholders become the real ids once the movements are inserted.
 */
export const MOVEMENT_ID = (index: number) => -(index + 1);
const MOVEMENT_ID_IN_JSON = /"id":-(\d+)(?=[,}])/g;

export function withMovementIds<T>(value: T, firstId: number): T {
  const json = JSON.stringify(value).replace(MOVEMENT_ID_IN_JSON, (_, n: string) => `"id":${firstId + Number(n) - 1}`);
  return JSON.parse(json) as T;
}

/** The same substitution in SQL, after `SET @first_movement_id = LAST_INSERT_ID()`. */
function withIdsInSql(json: string): { sql: string; params: string[] } {
  // split keeps the captured placeholder numbers: text, n, text, n, …, text
  const pieces = json.split(MOVEMENT_ID_IN_JSON);
  const sql = pieces.map((piece, i) => (i % 2 ? `'"id":', @first_movement_id + ${Number(piece) - 1}` : '?'));
  return { sql: `CONCAT(${sql.join(', ')})`, params: pieces.filter((_, i) => i % 2 === 0) };
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
  constructor(private readonly dataSource: DataSource) {}

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
   * The locking reads of a stock write, in one round trip on MySQL: the active products with a shared
   * lock (an archive, which takes the product row exclusively first, cannot slip in), then the level
   * rows `FOR UPDATE` in ascending (warehouse, product) order — the one order every stock write uses.
   * `begin` (MySQL: START TRANSACTION) opens the transaction in the same round trip. A missing level
   * row that a write may add to (`mayAdd`) is created first, race-free; any other missing level reads
   * as 0 without a row — a write could only take from it, and is refused — so refused writes never
   * contend on creating rows nobody keeps.
   */
  async lockForWrite(
    manager: EntityManager,
    productIds: number[],
    keys: LevelKey[],
    mayAdd: Set<string>,
    now: Date,
    begin: string,
  ): Promise<{
    /** The SKU of each named product that is active; an archived or unknown one is absent. */
    skus: Map<number, string>;
    onHand: Map<string, number>;
    /** Level rows that did not exist: created here, at 0. */
    created: Set<string>;
  }> {
    const sorted = [...keys].sort(levelOrder);
    const dialect = dialectOf(manager.connection);
    const productsQuery = {
      sql: `SELECT id, sku FROM products WHERE archived_at IS NULL AND id IN (${productIds.map(() => '?').join(', ')})${dialect.shareLock}`,
      params: productIds,
    };
    const levels = this.levelsForUpdateSql(sorted, dialect.forUpdate);
    let productRows: { id: number; sku: string }[];
    let levelRows: LevelLockRow[];
    if (!dialect.sharedConnection) {
      const results: unknown[] = await manager.query(`${begin}; ${productsQuery.sql}; ${levels.sql}`, [
        ...productsQuery.params,
        ...levels.params,
      ]);
      [productRows, levelRows] = results.slice(1) as [typeof productRows, LevelLockRow[]];
    } else {
      productRows = await manager.query(productsQuery.sql, productsQuery.params);
      levelRows = await manager.query(levels.sql, levels.params);
    }
    const skus = new Map(productRows.map((p) => [Number(p.id), p.sku]));
    const onHandOf = (rows: LevelLockRow[]) =>
      new Map(
        rows.map((r) => [
          levelKeyOf({ warehouseId: Number(r.warehouse_id), productId: Number(r.product_id) }),
          Number(r.on_hand),
        ]),
      );
    let onHand = onHandOf(levelRows);
    // only for active products: a write naming another is refused and must leave no row behind
    const missing = sorted.filter(
      (k) => !onHand.has(levelKeyOf(k)) && skus.has(k.productId) && mayAdd.has(levelKeyOf(k)),
    );
    if (missing.length) {
      await this.insertMissingLevels(manager, missing, now);
      onHand = onHandOf(await manager.query(levels.sql, levels.params));
    }
    const created = new Set(missing.map((k) => levelKeyOf(k)));
    // a level without a row (nobody may add to it here) reads as 0
    return { skus, created, onHand: new Map([...sorted.map((k): [string, number] => [levelKeyOf(k), 0]), ...onHand]) };
  }

  private levelsForUpdateSql(keys: LevelKey[], forUpdate: string): { sql: string; params: number[] } {
    return {
      sql:
        'SELECT warehouse_id, product_id, on_hand FROM stock_levels WHERE ' +
        keys.map(() => '(warehouse_id = ? AND product_id = ?)').join(' OR ') +
        ` ORDER BY warehouse_id, product_id${forUpdate}`,
      params: keys.flatMap((k) => [k.warehouseId, k.productId]),
    };
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

  /**
   * The writes of a group of stock writes: levels, movements, and each request's audit entry and
   * idempotent answer. On MySQL they go in one round trip, so the row locks are held for as short a time
   * as possible; movement ids inside the audit entries and answers are placeholders (see MOVEMENT_ID)
   * filled in by SQL there. Returns the first movement's id (the ids of one multi-row INSERT are consecutive).
   */
  async persist(manager: EntityManager, plan: PersistPlan): Promise<number> {
    if (dialectOf(manager.connection).sharedConnection) return this.persistOneByOne(manager, plan);
    const statements: string[] = [];
    const params: unknown[] = [];
    for (const level of plan.levels) {
      statements.push('UPDATE stock_levels SET on_hand = ?, updated_at = ? WHERE warehouse_id = ? AND product_id = ?');
      params.push(level.onHand, plan.now, level.warehouseId, level.productId);
    }
    statements.push(
      `INSERT INTO stock_movements (${MOVEMENT_COLUMNS.join(', ')}) VALUES ${plan.movements.map(() => `(${MOVEMENT_COLUMNS.map(() => '?').join(', ')})`).join(', ')}`,
    );
    params.push(...plan.movements.flatMap(movementValues));
    statements.push('SET @first_movement_id = LAST_INSERT_ID()');
    const audits = plan.entries.map(({ audit, firstMovement }) => {
      const after = withIdsInSql(JSON.stringify(audit.after));
      params.push(plan.now, audit.actor.id, audit.actor.username, audit.actor.role, audit.action);
      params.push(...after.params, audit.requestId, audit.ip);
      return `(?, ?, ?, ?, ?, 'movement', @first_movement_id + ${firstMovement}, NULL, ${after.sql}, ?, ?)`;
    });
    statements.push(
      `INSERT INTO audit_logs (at, actor_id, actor_username, actor_role, action, entity_type, entity_id, \`before\`, \`after\`, request_id, ip) VALUES ${audits.join(', ')}`,
    );
    const answers = plan.entries.flatMap(({ idempotency }) => {
      if (!idempotency) return [];
      const body = withIdsInSql(JSON.stringify(idempotency.responseBody));
      const { userId, route, key, requestHash, responseStatus } = idempotency;
      params.push(userId, route, key, requestHash, responseStatus, ...body.params, plan.now);
      return [`(?, ?, ?, ?, ?, ${body.sql}, ?)`];
    });
    if (answers.length) {
      statements.push(
        `INSERT INTO idempotency_keys (user_id, route, idempotency_key, request_hash, response_status, response_body, created_at) VALUES ${answers.join(', ')}`,
      );
    }
    if (plan.commit) statements.push(plan.commit);
    const results: { insertId?: number }[] = await manager.query(statements.join(';\n'), params);
    return Number(results[plan.levels.length].insertId);
  }

  /** SQLite: the same writes, one statement at a time (its writes are serialized; there is no round trip). */
  private async persistOneByOne(manager: EntityManager, plan: PersistPlan): Promise<number> {
    for (const level of plan.levels) {
      await manager.update(
        StockLevel,
        { warehouseId: level.warehouseId, productId: level.productId },
        { onHand: level.onHand, updatedAt: plan.now },
      );
    }
    let firstId = 0;
    for (const [i, movement] of plan.movements.entries()) {
      const result = await manager.insert(StockMovement, { ...movement });
      if (i === 0) firstId = Number(result.identifiers[0].id);
    }
    for (const { audit, idempotency, firstMovement } of plan.entries) {
      await manager.insert(AuditLog, {
        at: plan.now,
        actorId: audit.actor.id,
        actorUsername: audit.actor.username,
        actorRole: audit.actor.role,
        action: audit.action,
        entityType: 'movement',
        entityId: String(firstId + firstMovement),
        before: null,
        after: withMovementIds(audit.after, firstId),
        requestId: audit.requestId,
        ip: audit.ip,
      });
      if (idempotency) {
        await manager.insert(IdempotencyKey, {
          ...idempotency,
          responseBody: JSON.stringify(withMovementIds(idempotency.responseBody, firstId)),
          createdAt: plan.now,
        });
      }
    }
    return firstId;
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
