import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { InsertedIds, NO_INSERTED_IDS, rawDate, runStatements, Statement } from '../../database/dialect';
import { EventType, OutboxEvent } from './entities/outbox-event.entity';
import { NewEvent } from './new-event';

/** An event as the feed and the receivers see it. */
export interface EventView {
  id: string;
  type: EventType;
  occurredAt: string;
  data: object;
}

/** A placed event as it goes out: `json` is its EventView, built around the stored data text (no parse). */
export interface WireEvent {
  position: number;
  type: EventType;
  occurredAt: Date;
  json: string;
}

export const toEventView = (event: OutboxEvent): EventView => ({
  id: String(event.position),
  type: event.type,
  occurredAt: event.occurredAt.toISOString(),
  data: event.data,
});

/** The products column: ids separated by commas. */
export const productsOf = (column: string) => (column ? column.split(',').map(Number) : []);

const WIRE_SELECT = 'SELECT position, type, occurred_at, data FROM events WHERE';
type WireRow = { position: string | number; type: EventType; occurred_at: Date | string; data: string };

function toWire(rows: WireRow[]): WireEvent[] {
  return rows.map((r) => {
    const occurredAt = rawDate(r.occurred_at);
    const head = JSON.stringify({ id: String(r.position), type: r.type, occurredAt: occurredAt.toISOString() });
    return { position: Number(r.position), type: r.type, occurredAt, json: `${head.slice(0, -1)},"data":${r.data}}` };
  });
}

const COLUMNS = '(type, products, occurred_at, data)';

/** The SQL of `events`, the outbox. */
@Injectable()
export class EventsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * One INSERT of a stock group's events, in order, for a Transaction's last round trip: placeholder ids
   * in their data become the ids the same batch's INSERT gave (a movement's id).
   */
  appendForInserted(events: NewEvent[], at: Date, ids: InsertedIds): Statement {
    const params: unknown[] = [];
    const rows = events.map((event) => {
      const data = ids.json(event.data);
      params.push(event.type, event.products.join(','), at, ...data.params);
      return `(?, ?, ?, ${data.sql})`;
    });
    return { sql: `INSERT INTO events ${COLUMNS} VALUES ${rows.join(', ')}`, params };
  }

  /** Appends inside the caller's TypeORM transaction, so an event exists exactly when its change does. */
  async append(manager: EntityManager, events: NewEvent[], at: Date): Promise<void> {
    if (events.length) await runStatements(manager, [this.appendForInserted(events, at, NO_INSERTED_IDS)]);
  }

  /** Placed events after `position`, oldest first. */
  feed(after: number, types: EventType[] | undefined, take: number): Promise<OutboxEvent[]> {
    const query = this.dataSource.manager
      .createQueryBuilder(OutboxEvent, 'e')
      .where('e.position > :after', { after })
      .orderBy('e.position', 'ASC')
      .limit(take);
    if (types?.length) query.andWhere('e.type IN (:...types)', { types });
    return query.getMany();
  }

  /** Placed events after `position`, oldest first, with the products each is of (what a webhook's fan-out needs). */
  placedAfter(after: number, take: number): Statement<{ position: number; type: EventType; products: number[] }[]> {
    return {
      sql: `SELECT position, type, products FROM events WHERE position > ? ORDER BY position LIMIT ${take}`,
      params: [after],
      read: (rows) =>
        (rows as { position: string | number; type: EventType; products: string }[]).map((r) => ({
          position: Number(r.position),
          type: r.type,
          products: productsOf(r.products),
        })),
    };
  }

  /** Placed events after `position`, oldest first, as they go out (the broker's feed). */
  async wireFeed(after: number, take: number): Promise<WireEvent[]> {
    return this.wire(`position > ? ORDER BY position LIMIT ${take}`, [after]);
  }

  /** Placed events by position, as they go out (what webhook deliveries send), for a transaction's batch. */
  wireByPositions(positions: number[]): Statement<Map<number, WireEvent>> {
    return {
      sql: `${WIRE_SELECT} position IN (${positions.map(() => '?').join(', ')})`,
      params: positions,
      read: (rows) => new Map(toWire(rows as WireRow[]).map((e) => [e.position, e])),
    };
  }

  /**
   * Events as JSON text around the stored data, as toEventView would shape them: under load the
   * publisher and the webhook worker send every event, and parsing each one's data only to serialize it
   * again is CPU the stock writes need.
   */
  private async wire(where: string, params: unknown[]): Promise<WireEvent[]> {
    return toWire((await this.dataSource.query(`${WIRE_SELECT} ${where}`, params)) as WireRow[]);
  }

  /**
   * The ids of committed events without a position, oldest first. A plain read: rows of transactions still in
   * flight are not visible to it, so it never waits for them and never places them early.
   */
  unplaced(limit: number): Statement<number[]> {
    return {
      sql: `SELECT id FROM events WHERE position IS NULL ORDER BY id LIMIT ${limit}`,
      params: [],
      read: (rows) => (rows as { id: string | number }[]).map((r) => Number(r.id)),
    };
  }

  /** Gives `ids` the positions `first`, `first + 1`, … in that order. */
  place(ids: number[], first: number): Statement[] {
    // one UPDATE per run of consecutive ids (usually one: events commit in id order), each a range of
    // the primary key; a CASE of one branch per event cost MariaDB 12 ms for 500
    const statements: Statement[] = [];
    for (let start = 0; start < ids.length;) {
      let end = start;
      while (end + 1 < ids.length && ids[end + 1] === ids[end] + 1) end++;
      statements.push({
        sql: 'UPDATE events SET position = id + ? WHERE id BETWEEN ? AND ?',
        params: [first + start - ids[start], ids[start], ids[end]],
      });
      start = end + 1;
    }
    return statements;
  }

  /** Up to `take` placed events at or before `position` that occurred before `cutoff` (any `take`: all go). */
  placedBefore(position: number, cutoff: Date, take: number): Statement<number[]> {
    return {
      sql: `SELECT id FROM events WHERE position <= ? AND occurred_at < ? LIMIT ${take}`,
      params: [position, cutoff],
      read: (rows) => (rows as { id: string | number }[]).map((r) => Number(r.id)),
    };
  }

  delete(ids: number[]): Statement {
    return { sql: `DELETE FROM events WHERE id IN (${ids.map(() => '?').join(', ')})`, params: ids };
  }

  /** Events not placed yet (committed ones; a backlog means the sequencer is behind). */
  async countUnplaced(): Promise<number> {
    const [row] = (await this.dataSource.query('SELECT COUNT(*) AS n FROM events WHERE position IS NULL')) as {
      n: string | number;
    }[];
    return Number(row.n);
  }

  /** The newest position handed out, 0 before the first. */
  async lastPosition(manager: EntityManager = this.dataSource.manager): Promise<number> {
    const [row] = (await manager.query('SELECT MAX(position) AS p FROM events')) as { p: unknown }[];
    return row.p === null ? 0 : Number(row.p);
  }
}
