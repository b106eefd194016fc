import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Dialect, dialectOf, rawDate, Statement } from '../../../database/dialect';
import { levelKeyOf } from '../levels/level-key';
import { Reservation, ReservationStatus } from './entities/reservation.entity';
import { ReservationRecord } from './reservation.views';

/** What the write path locks of a reservation: whether it is still to be confirmed, cancelled or expired. */
export interface ReservationState {
  status: ReservationStatus;
  expiresAt: Date;
}

export interface ReservationFilter {
  status?: ReservationStatus;
  productId?: number;
  reference?: string;
  beforeId: number | null;
  take: number;
}

interface RecordRow {
  id: number;
  status: ReservationStatus;
  reference: string | null;
  note: string | null;
  expires_at: string | Date;
  created_at: string | Date;
  created_by_id: number;
  created_by_username: string;
  closed_at: string | Date | null;
  product_id: number;
  warehouse_id: number;
  quantity: number;
  sku: string;
  warehouse: string;
}

/** The SQL of reservations and reservation_lines (reads join products and warehouses to name a line). */
@Injectable()
export class ReservationsRepository {
  private readonly dialect: Dialect;

  constructor(private readonly dataSource: DataSource) {
    this.dialect = dialectOf(dataSource);
  }

  /** The reservations `ids` with their lines, in id order; an unknown id is absent. */
  async findRecords(ids: number[], descending = false): Promise<ReservationRecord[]> {
    if (!ids.length) return [];
    const rows: RecordRow[] = await this.dataSource.query(
      `SELECT r.id, r.status, r.reference, r.note, r.expires_at, r.created_at, r.created_by_id,
              r.created_by_username, r.closed_at, l.product_id, l.warehouse_id, l.quantity, p.sku, w.code AS warehouse
       FROM reservations r
       JOIN reservation_lines l ON l.reservation_id = r.id
       JOIN products p ON p.id = l.product_id
       JOIN warehouses w ON w.id = l.warehouse_id
       WHERE r.id IN (${ids.map(() => '?').join(', ')})
       ORDER BY r.id ${descending ? 'DESC' : 'ASC'}, l.line_no`,
      ids,
    );
    const records = new Map<number, ReservationRecord>();
    for (const row of rows) {
      const id = Number(row.id);
      let record = records.get(id);
      if (!record) {
        record = {
          id,
          status: row.status,
          lines: [],
          reference: row.reference,
          note: row.note,
          expiresAt: rawDate(row.expires_at),
          createdAt: rawDate(row.created_at),
          createdBy: { id: Number(row.created_by_id), username: row.created_by_username },
          closedAt: row.closed_at === null ? null : rawDate(row.closed_at),
        };
        records.set(id, record);
      }
      record.lines.push({
        productId: Number(row.product_id),
        sku: row.sku,
        warehouse: row.warehouse,
        warehouseId: Number(row.warehouse_id),
        quantity: Number(row.quantity),
      });
    }
    return [...records.values()];
  }

  /**
   * Locks the reservations `ids` for the rest of the transaction and reads their state. With `skipLocked`,
   * one another transaction holds is passed over (absent from the answer) instead of waited for.
   */
  lockStates(ids: number[], skipLocked: boolean): Statement<Map<number, ReservationState>> {
    const lock = skipLocked ? this.dialect.forUpdateSkipLocked : this.dialect.forUpdate;
    return {
      sql: `SELECT id, status, expires_at FROM reservations WHERE id IN (${ids.map(() => '?').join(', ')}) ORDER BY id${lock}`,
      params: ids,
      read: (rows) =>
        new Map(
          (rows as { id: number; status: ReservationStatus; expires_at: string | Date }[]).map((r) => [
            Number(r.id),
            { status: r.status, expiresAt: rawDate(r.expires_at) },
          ]),
        ),
    };
  }

  /** New reservations and their lines: two INSERTs. */
  insert(records: ReservationRecord[]): Statement[] {
    const lines = records.flatMap((r) => r.lines.map((line, i) => ({ id: r.id, lineNo: i + 1, ...line })));
    return [
      {
        sql: `INSERT INTO reservations (id, status, reference, note, expires_at, created_at, created_by_id, created_by_username, closed_at) VALUES ${records.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        params: records.flatMap((r) => [
          r.id,
          r.status,
          r.reference,
          r.note,
          r.expiresAt,
          r.createdAt,
          r.createdBy.id,
          r.createdBy.username,
          r.closedAt,
        ]),
      },
      {
        sql: `INSERT INTO reservation_lines (reservation_id, line_no, product_id, warehouse_id, quantity) VALUES ${lines.map(() => '(?, ?, ?, ?, ?)').join(', ')}`,
        params: lines.flatMap((l) => [l.id, l.lineNo, l.productId, l.warehouseId, l.quantity]),
      },
    ];
  }

  /** Each reservation leaves ACTIVE: its new status and when. */
  close(changes: Pick<ReservationRecord, 'id' | 'status' | 'closedAt'>[]): Statement[] {
    return changes.map((c) => ({
      sql: 'UPDATE reservations SET status = ?, closed_at = ? WHERE id = ?',
      params: [c.status, c.closedAt, c.id],
    }));
  }

  /** ACTIVE reservations whose time is up at `now`, oldest expiry first. */
  async dueIds(now: Date, limit: number): Promise<number[]> {
    const rows = await this.dataSource.manager
      .createQueryBuilder(Reservation, 'r')
      .select('r.id', 'id')
      .where("r.status = 'ACTIVE' AND r.expires_at <= :now", { now })
      .orderBy('r.expires_at', 'ASC')
      .addOrderBy('r.id', 'ASC')
      .limit(limit)
      .getRawMany<{ id: number }>();
    return rows.map((r) => Number(r.id));
  }

  /** Newest first (id descending), keyset on id. */
  async list(filter: ReservationFilter): Promise<ReservationRecord[]> {
    const conditions: [string, unknown][] = [];
    if (filter.beforeId !== null) conditions.push(['r.id < ?', filter.beforeId]);
    if (filter.status !== undefined) conditions.push(['r.status = ?', filter.status]);
    if (filter.reference !== undefined) conditions.push(['r.reference = ?', filter.reference]);
    if (filter.productId !== undefined) {
      const line = 'EXISTS (SELECT 1 FROM reservation_lines l WHERE l.reservation_id = r.id AND l.product_id = ?)';
      conditions.push([line, filter.productId]);
    }
    const where = conditions.map(([sql]) => sql);
    const params = conditions.map(([, param]) => param);
    const rows: { id: number }[] = await this.dataSource.query(
      `SELECT r.id FROM reservations r ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY r.id DESC LIMIT ${filter.take}`,
      params,
    );
    return this.findRecords(
      rows.map((r) => Number(r.id)),
      true,
    );
  }

  /** Per level (levelKeyOf), the sum of its ACTIVE reservation lines: what its `reserved` must equal. */
  async activeHoldsByLevel(manager: EntityManager = this.dataSource.manager): Promise<Map<string, number>> {
    const rows: { product_id: number; warehouse_id: number; held: string | number }[] = await manager.query(
      `SELECT l.product_id, l.warehouse_id, SUM(l.quantity) AS held
       FROM reservation_lines l JOIN reservations r ON r.id = l.reservation_id
       WHERE r.status = 'ACTIVE'
       GROUP BY l.product_id, l.warehouse_id`,
    );
    return new Map(
      rows.map((r) => [
        levelKeyOf({ warehouseId: Number(r.warehouse_id), productId: Number(r.product_id) }),
        Number(r.held),
      ]),
    );
  }
}
