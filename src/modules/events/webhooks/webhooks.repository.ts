import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Dialect, dialectOf, forUpdate, Statement } from '../../../database/dialect';
import { WebhookDeliveryKey } from './entities/webhook-delivery-key.entity';
import { DeliveryStatus, WebhookDelivery } from './entities/webhook-delivery.entity';
import { Webhook } from './entities/webhook.entity';

/** A webhook as the worker fans its events out. */
export interface Subscription {
  id: number;
  events: string[];
  enabled: boolean;
  eventCursor: number;
}

export interface NewDelivery {
  webhookId: number;
  eventPosition: number;
  eventType: string;
  /** The products the event is of (at least one: an event of none is of "product 0"). */
  products: number[];
  /** How many of them have a PENDING delivery of an older event for the webhook. */
  waits: number;
}

/** What one attempt at a delivery came to. */
export interface DeliveryOutcome {
  status: DeliveryStatus;
  statusCode: number | null;
  error: string | null;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
}

/** A due delivery a worker may take. */
export interface Candidate {
  id: number;
  webhookId: number;
  eventPosition: number;
  attempts: number;
}

const readCandidates = (rows: unknown): Candidate[] =>
  (rows as Record<string, string | number>[]).map((r) => ({
    id: Number(r.id),
    webhookId: Number(r.webhook_id),
    eventPosition: Number(r.event_position),
    attempts: Number(r.attempts),
  }));

const DELIVERY_COLUMNS =
  '(webhook_id, event_position, event_type, status, attempts, waits, next_attempt_at, created_at)';

/** The SQL of `webhooks` and `webhook_deliveries`. */
@Injectable()
export class WebhooksRepository {
  private readonly dialect: Dialect;

  constructor(private readonly dataSource: DataSource) {
    this.dialect = dialectOf(dataSource);
  }

  // ------------------------------------------------------------------ webhooks

  async insert(manager: EntityManager, row: Omit<Webhook, 'id'>): Promise<Webhook> {
    const result = await manager.insert(Webhook, row);
    return { ...row, id: Number(result.identifiers[0].id) };
  }

  find(id: number): Promise<Webhook | null> {
    return this.dataSource.manager.findOneBy(Webhook, { id });
  }

  lock(manager: EntityManager, id: number): Promise<Webhook | null> {
    return forUpdate(manager.createQueryBuilder(Webhook, 'w').where('w.id = :id', { id })).getOne();
  }

  async update(manager: EntityManager, id: number, changes: Partial<Webhook>): Promise<void> {
    await manager.update(Webhook, { id }, changes);
  }

  /** The webhook and every delivery of it. */
  async delete(manager: EntityManager, id: number): Promise<void> {
    await manager.delete(WebhookDeliveryKey, { webhookId: id });
    await manager.delete(WebhookDelivery, { webhookId: id });
    await manager.delete(Webhook, { id });
  }

  /** Oldest first, keyset on id. */
  list(afterId: number | null, take: number): Promise<Webhook[]> {
    const query = this.dataSource.manager.createQueryBuilder(Webhook, 'w').orderBy('w.id', 'ASC').limit(take);
    if (afterId !== null) query.where('w.id > :afterId', { afterId });
    return query.getMany();
  }

  /** Where and how to send: each webhook's URL and sealed secret, for a transaction's batch. */
  targets(ids: number[]): Statement<Map<number, { url: string; sealedSecret: string }>> {
    return {
      sql: `SELECT id, url, sealed_secret FROM webhooks WHERE id IN (${ids.map(() => '?').join(', ')})`,
      params: ids,
      read: (rows) =>
        new Map(
          (rows as { id: number; url: string; sealed_secret: string }[]).map((r) => [
            Number(r.id),
            { url: r.url, sealedSecret: r.sealed_secret },
          ]),
        ),
    };
  }

  /** The enabled webhooks' ids. */
  async enabledIds(): Promise<number[]> {
    const rows = (await this.dataSource.query('SELECT id FROM webhooks WHERE enabled = ? ORDER BY id', [true])) as {
      id: number;
    }[];
    return rows.map((r) => Number(r.id));
  }

  /**
   * The webhook, locked for fanning its next events out; null when another instance is doing that now
   * (passed over) or it is gone.
   */
  lockForFanOut(id: number): Statement<Subscription | null> {
    return {
      sql: `SELECT id, events, enabled, event_cursor FROM webhooks WHERE id = ?${this.dialect.forUpdateSkipLocked}`,
      params: [id],
      read: (rows) => {
        const [row] = rows as {
          id: number;
          events: string;
          enabled: number | boolean;
          event_cursor: string | number;
        }[];
        if (!row) return null;
        return {
          id: Number(row.id),
          events: JSON.parse(row.events) as string[],
          enabled: Boolean(row.enabled),
          eventCursor: Number(row.event_cursor),
        };
      },
    };
  }

  /** Whether the webhook already has `window` deliveries PENDING (an index range of at most that many entries). */
  windowFull(id: number, window: number): Statement<boolean> {
    return {
      sql: `SELECT id FROM webhook_deliveries WHERE webhook_id = ? AND status = 'PENDING' ORDER BY id LIMIT 1 OFFSET ${window - 1}`,
      params: [id],
      read: (rows) => (rows as unknown[]).length > 0,
    };
  }

  /** Moves a webhook's event cursor: its events up to `position` have their deliveries. */
  advanceCursor(id: number, position: number): Statement {
    return { sql: 'UPDATE webhooks SET event_cursor = ? WHERE id = ?', params: [position, id] };
  }

  /**
   * A shared lock on the webhook for the rest of the transaction: a delivery's release waits while the
   * webhook's events are being fanned out (which counts what each new delivery waits for), and the other
   * way round.
   */
  shareLock(id: number): Statement {
    return { sql: `SELECT id FROM webhooks WHERE id = ?${this.dialect.shareLock}`, params: [id] };
  }

  // ------------------------------------------------------------------ deliveries

  /**
   * Of these (webhook, product) pairs, those with a PENDING delivery ("webhookId:productId"): a new
   * delivery of such a product waits for it. Under the webhook's lock (see shareLock).
   */
  pendingProducts(webhookIds: number[], productIds: number[]): Statement<Set<string>> {
    return {
      sql: `SELECT DISTINCT webhook_id, product_id FROM webhook_delivery_keys
            WHERE webhook_id IN (${webhookIds.map(() => '?').join(', ')}) AND product_id IN (${productIds.map(() => '?').join(', ')})`,
      params: [...webhookIds, ...productIds],
      read: (rows) =>
        new Set((rows as { webhook_id: number; product_id: number }[]).map((r) => `${r.webhook_id}:${r.product_id}`)),
    };
  }

  /** New PENDING deliveries, due now, with their products. */
  insertDeliveries(rows: NewDelivery[], now: Date): Statement[] {
    return [
      {
        sql: `INSERT INTO webhook_deliveries ${DELIVERY_COLUMNS} VALUES ${rows.map(() => "(?, ?, ?, 'PENDING', 0, ?, ?, ?)").join(', ')}`,
        params: rows.flatMap((r) => [r.webhookId, r.eventPosition, r.eventType, r.waits, now, now]),
      },
      {
        sql: `INSERT INTO webhook_delivery_keys (webhook_id, product_id, event_position) VALUES ${rows
          .flatMap((r) => r.products.map(() => '(?, ?, ?)'))
          .join(', ')}`,
        params: rows.flatMap((r) => r.products.flatMap((productId) => [r.webhookId, productId, r.eventPosition])),
      },
    ];
  }

  /** Newest first, keyset on id. */
  listDeliveries(
    webhookId: number,
    status: DeliveryStatus | undefined,
    beforeId: number | null,
    take: number,
  ): Promise<WebhookDelivery[]> {
    const query = this.dataSource.manager
      .createQueryBuilder(WebhookDelivery, 'd')
      .where('d.webhook_id = :webhookId', { webhookId })
      .orderBy('d.id', 'DESC')
      .limit(take);
    if (status !== undefined) query.andWhere('d.status = :status', { status });
    if (beforeId !== null) query.andWhere('d.id < :beforeId', { beforeId });
    return query.getMany();
  }

  findDelivery(webhookId: number, id: number): Promise<WebhookDelivery | null> {
    return this.dataSource.manager.findOneBy(WebhookDelivery, { webhookId, id });
  }

  /**
   * Due PENDING deliveries waiting for no older one, soonest due first, locked for the claiming
   * transaction; rows another instance is claiming are passed over (run under READ COMMITTED: no gap
   * locks that would stall the sequencer's inserts).
   */
  lockDue(now: Date, limit: number): Statement<Candidate[]> {
    return {
      sql: `SELECT id, webhook_id, event_position, attempts FROM webhook_deliveries
            WHERE status = 'PENDING' AND waits = 0 AND next_attempt_at <= ?
            ORDER BY next_attempt_at, id LIMIT ${limit}${this.dialect.forUpdateSkipLocked}`,
      params: [now],
      read: readCandidates,
    };
  }

  /** Takes deliveries: one attempt more, and due again at `leaseUntil` should the taker die before it records the outcome. */
  lease(ids: number[], leaseUntil: Date): Statement {
    return {
      sql: `UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ? WHERE id IN (${ids.map(() => '?').join(', ')})`,
      params: [leaseUntil, ...ids],
    };
  }

  /**
   * An attempt's outcome — unless the lease ran out and another worker took the delivery since
   * (`attempts` moved on, or it is no longer PENDING): then that worker's outcome counts (stateOf tells).
   */
  recordOutcome(delivery: Candidate, outcome: DeliveryOutcome): Statement {
    return {
      sql: `UPDATE webhook_deliveries SET status = ?, last_status_code = ?, last_error = ?, next_attempt_at = ?, delivered_at = ?
            WHERE id = ? AND attempts = ? AND status = 'PENDING'`,
      params: [
        outcome.status,
        outcome.statusCode,
        outcome.error?.slice(0, 500) ?? null,
        outcome.nextAttemptAt,
        outcome.deliveredAt,
        delivery.id,
        delivery.attempts,
      ],
    };
  }

  /** A delivery's status and attempts, as this transaction sees them. */
  stateOf(id: number): Statement<{ attempts: number; status: DeliveryStatus } | null> {
    return {
      sql: 'SELECT attempts, status FROM webhook_deliveries WHERE id = ?',
      params: [id],
      read: (rows) => {
        const [row] = rows as { attempts: number; status: DeliveryStatus }[];
        return row ? { attempts: Number(row.attempts), status: row.status } : null;
      },
    };
  }

  /** Of a webhook's deliveries at these positions, those now free to go (due, waiting for none), locked. */
  lockReleased(webhookId: number, positions: number[], now: Date): Statement<Candidate[]> {
    return {
      sql: `SELECT id, webhook_id, event_position, attempts FROM webhook_deliveries
            WHERE webhook_id = ? AND event_position IN (${positions.map(() => '?').join(', ')})
              AND status = 'PENDING' AND waits = 0 AND next_attempt_at <= ?${this.dialect.forUpdateSkipLocked}`,
      params: [webhookId, ...positions, now],
      read: readCandidates,
    };
  }

  /**
   * For each product of a delivery, the position of its next PENDING delivery for the webhook. The first
   * row past the delivery's in key order: a few index entries, as the delivery is its product's oldest
   * (MIN() or a join grouped by product read the product's whole backlog on MariaDB, and a hot product
   * has a thousand deliveries waiting).
   */
  nextOfEachProduct(webhookId: number, eventPosition: number): Statement<number[]> {
    return {
      sql: `SELECT (SELECT next.event_position FROM webhook_delivery_keys next
                    WHERE next.webhook_id = done.webhook_id AND next.product_id = done.product_id
                      AND next.event_position > done.event_position
                    ORDER BY next.event_position LIMIT 1) AS position
            FROM webhook_delivery_keys done
            WHERE done.webhook_id = ? AND done.event_position = ?`,
      params: [webhookId, eventPosition],
      read: (rows) =>
        (rows as { position: string | number | null }[])
          .filter((r) => r.position !== null)
          .map((r) => Number(r.position)),
    };
  }

  /**
   * A delivery done: its products' rows go, and each next delivery waits for one product fewer (twice
   * fewer when it was the next of two of them).
   */
  release(webhookId: number, eventPosition: number, next: number[]): Statement[] {
    const statements: Statement[] = [
      {
        sql: 'DELETE FROM webhook_delivery_keys WHERE webhook_id = ? AND event_position = ?',
        params: [webhookId, eventPosition],
      },
    ];
    const counts = new Map<number, number>();
    for (const position of next) counts.set(position, (counts.get(position) ?? 0) + 1);
    for (const [position, count] of counts) {
      statements.push({
        sql: 'UPDATE webhook_deliveries SET waits = waits - ? WHERE webhook_id = ? AND event_position = ?',
        params: [count, webhookId, position],
      });
    }
    return statements;
  }

  /**
   * Sent again now. A PENDING delivery is brought forward, its place in its products' order kept; a
   * FAILED or DELIVERED one goes out again at once, outside that order (a resend of an old event).
   */
  retry(delivery: WebhookDelivery, now: Date): Statement {
    return delivery.status === 'PENDING'
      ? { sql: 'UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?', params: [now, delivery.id] }
      : {
          sql: "UPDATE webhook_deliveries SET status = 'PENDING', waits = 0, next_attempt_at = ?, delivered_at = NULL WHERE id = ?",
          params: [now, delivery.id],
        };
  }

  /**
   * Events not yet fanned out, summed over the enabled webhooks: how far each one's cursor is behind the
   * newest position (positions have no gaps; an event of a type it does not take counts until passed).
   */
  async countBehind(): Promise<number> {
    const [row] = (await this.dataSource.query(
      `SELECT COALESCE(SUM(newest.position - w.event_cursor), 0) AS n
       FROM webhooks w, (SELECT COALESCE(MAX(position), 0) AS position FROM events) newest
       WHERE w.enabled = ? AND w.event_cursor < newest.position`,
      [true],
    )) as { n: string | number }[];
    return Number(row.n);
  }

  /**
   * The oldest event position any delivery still refers to (a pending one sends it; a finished one can be
   * retried by hand), or null when there is none: one index lookup per webhook.
   */
  async oldestDeliveredPosition(): Promise<number | null> {
    const [row] = (await this.dataSource.query(
      `SELECT MIN((SELECT MIN(d.event_position) FROM webhook_deliveries d WHERE d.webhook_id = w.id)) AS p FROM webhooks w`,
    )) as { p: string | number | null }[];
    return row.p === null ? null : Number(row.p);
  }

  /** The lowest event cursor of the enabled webhooks (what they have fanned out), null when none is enabled. */
  async lowestEnabledCursor(): Promise<number | null> {
    const [row] = (await this.dataSource.query('SELECT MIN(event_cursor) AS p FROM webhooks WHERE enabled = ?', [
      true,
    ])) as { p: string | number | null }[];
    return row.p === null ? null : Number(row.p);
  }

  /** Up to `take` delivered or failed deliveries created before `cutoff` (by the created_at index). */
  finishedBefore(cutoff: Date, take: number): Statement<number[]> {
    return {
      sql: `SELECT id FROM webhook_deliveries WHERE status IN ('DELIVERED', 'FAILED') AND created_at < ? LIMIT ${take}`,
      params: [cutoff],
      read: (rows) => (rows as { id: string | number }[]).map((r) => Number(r.id)),
    };
  }

  /** Deletes these deliveries if they are (still) finished: a manual retry may just have made one PENDING. */
  deleteFinished(ids: number[]): Statement {
    return {
      sql: `DELETE FROM webhook_deliveries WHERE id IN (${ids.map(() => '?').join(', ')}) AND status IN ('DELIVERED', 'FAILED')`,
      params: ids,
    };
  }

  async countPending(): Promise<number> {
    const [row] = (await this.dataSource.query(
      "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'PENDING'",
    )) as { n: string | number }[];
    return Number(row.n);
  }
}
