import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Insert } from '../../database/dialect';
import { MovementType, StockMovement } from './entities/stock-movement.entity';
import { LevelKey } from './levels/level-key';

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

export interface LedgerCheck extends LevelKey {
  warehouse: string;
  onHand: number;
  ledgerSum: number;
  firstBadMovementId: number | null;
  reserved: number;
}

export type NewMovement = Omit<StockMovement, 'id'>;

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

const movementValues = (m: NewMovement) => [
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

/**
 * The SQL of stock_movements, the append-only ledger (reads join products and warehouses by table
 * name only to name a movement's SKU and warehouse code).
 */
@Injectable()
export class StockRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** One multi-row INSERT of a group's movements, in order: their ids are consecutive. */
  appendMovements(movements: NewMovement[]): Insert {
    const row = `(${MOVEMENT_COLUMNS.map(() => '?').join(', ')})`;
    return {
      sql: `INSERT INTO stock_movements (${MOVEMENT_COLUMNS.join(', ')}) VALUES ${movements.map(() => row).join(', ')}`,
      params: movements.flatMap(movementValues),
      rows: movements.length,
    };
  }

  /**
   * Newest first (id descending): stable under inserts, which only ever add newer ids. The page is read
   * from the ledger alone (an index gives it in id order, whatever the filter), then its SKUs and
   * warehouse codes by key: joined in one query, MySQL's planner would start from the small tables and
   * sort every movement below the cursor, per page.
   */
  async listMovements(filter: MovementFilter): Promise<MovementRow[]> {
    const query = this.dataSource.manager
      .createQueryBuilder(StockMovement, 'm')
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
    const movements = await query.getMany();
    if (!movements.length) return [];
    const names = async (table: 'products' | 'warehouses', column: 'sku' | 'code', ids: number[]) => {
      const unique = [...new Set(ids)];
      const rows: { id: number; name: string }[] = await this.dataSource.query(
        `SELECT id, ${column} AS name FROM ${table} WHERE id IN (${unique.map(() => '?').join(', ')})`,
        unique,
      );
      return new Map(rows.map((r) => [Number(r.id), r.name]));
    };
    const [skus, codes] = await Promise.all([
      names(
        'products',
        'sku',
        movements.map((m) => m.productId),
      ),
      names(
        'warehouses',
        'code',
        movements.map((m) => m.warehouseId),
      ),
    ]);
    return movements.map((m) => ({ ...m, sku: skus.get(m.productId)!, warehouse: codes.get(m.warehouseId)! }));
  }

  /**
   * For every level: on-hand against the sum of its movements, and the first movement whose
   * balanceAfter is not the running sum in id order.
   */
  async checkLedger(manager: EntityManager = this.dataSource.manager): Promise<LedgerCheck[]> {
    const rows: Record<string, string | number | null>[] = await manager.query(`
      SELECT l.product_id, l.warehouse_id, w.code AS warehouse, l.on_hand, l.reserved,
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
    return rows.map((r) => ({
      productId: Number(r.product_id),
      warehouseId: Number(r.warehouse_id),
      warehouse: String(r.warehouse),
      onHand: Number(r.on_hand),
      ledgerSum: Number(r.ledger_sum),
      firstBadMovementId: r.first_bad_id === null ? null : Number(r.first_bad_id),
      reserved: Number(r.reserved),
    }));
  }
}
