import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Dialect, dialectOf, forUpdate, rawDate, Statement } from '../../../database/dialect';
import { WebhookDeliveryKey } from './entities/webhook-delivery-key.entity';
import { DeliveryStatus, WebhookDelivery } from './entities/webhook-delivery.entity';
import { Webhook } from './entities/webhook.entity';

/** An enabled webhook as the sequencer fans events out to it. */
export interface Subscription {
  id: number;
  events: string[];
  createdAt: Date;
}

export interface NewDelivery {
  webhookId: number;
  eventPosition: number;
  eventType: string;
  /** The products the event is of: its place in each one's order. */
  products: number[];
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

const DELIVERY_COLUMNS = '(webhook_id, event_position, event_type, status, attempts, next_attempt_at, created_at)';

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

  async byIds(ids: number[]): Promise<Map<number, Webhook>> {
    if (!ids.length) return new Map();
    const rows = await this.dataSource.manager
      .createQueryBuilder(Webhook, 'w')
      .where('w.id IN (:...ids)', { ids })
      .getMany();
    return new Map(rows.map((w) => [w.id, w]));
  }

  /** The enabled webhooks, for the sequencer's transaction. */
  subscriptions(): Statement<Subscription[]> {
    return {
      sql: 'SELECT id, events, created_at FROM webhooks WHERE enabled = ?',
      params: [true],
      read: (rows) =>
        (rows as { id: number; events: string; created_at: Date | string }[]).map((r) => ({
          id: Number(r.id),
          events: JSON.parse(r.events) as string[],
          createdAt: rawDate(r.created_at),
        })),
    };
  }

  // ------------------------------------------------------------------ deliveries

  /** New PENDING deliveries, due now, with their products (one INSERT each). */
  insertDeliveries(rows: NewDelivery[], now: Date): Statement[] {
    const statements: Statement[] = [
      {
        sql: `INSERT INTO webhook_deliveries ${DELIVERY_COLUMNS} VALUES ${rows.map(() => "(?, ?, ?, 'PENDING', 0, ?, ?)").join(', ')}`,
        params: rows.flatMap((r) => [r.webhookId, r.eventPosition, r.eventType, now, now]),
      },
    ];
    // an event of no product is ordered with the others of no product (key 0)
    const keys = rows.flatMap((r) =>
      (r.products.length ? r.products : [0]).map((productId) => [r.webhookId, productId, r.eventPosition]),
    );
    if (keys.length) statements.push(this.insertKeys(keys));
    return statements;
  }

  private insertKeys(keys: number[][]): Statement {
    return {
      sql: `${this.dialect.insertIgnore} INTO webhook_delivery_keys (webhook_id, product_id, event_position) VALUES ${keys.map(() => '(?, ?, ?)').join(', ')}`,
      params: keys.flat(),
    };
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
   * Due PENDING deliveries none of whose products has a PENDING delivery of an older event for the same
   * webhook — only those may go out, so each product's events reach a webhook in order — soonest due
   * first. The candidates are each product's oldest PENDING delivery (the keys' primary key serves the
   * MIN per product), so a long backlog of one hot product costs one row, not a scan. A plain read: the
   * claim locks the rows it takes next (lockDue).
   */
  dueHeads(now: Date, limit: number): Statement<number[]> {
    return {
      sql: `SELECT d.id FROM webhook_deliveries d
            JOIN (SELECT webhook_id, product_id, MIN(event_position) AS head FROM webhook_delivery_keys
                  GROUP BY webhook_id, product_id) h ON h.webhook_id = d.webhook_id AND h.head = d.event_position
            WHERE d.status = 'PENDING' AND d.next_attempt_at <= ?
              AND NOT EXISTS (SELECT 1 FROM webhook_delivery_keys k
                              JOIN webhook_delivery_keys older ON older.webhook_id = k.webhook_id
                               AND older.product_id = k.product_id AND older.event_position < k.event_position
                              WHERE k.webhook_id = d.webhook_id AND k.event_position = d.event_position)
            GROUP BY d.id, d.next_attempt_at
            ORDER BY d.next_attempt_at, d.id LIMIT ${limit}`,
      params: [now],
      read: (rows) => (rows as { id: string | number }[]).map((r) => Number(r.id)),
    };
  }

  /**
   * Of `ids`, those still due, locked for the claiming transaction; rows another instance is claiming are
   * passed over (run under READ COMMITTED: no gap locks that would stall the sequencer's inserts).
   */
  lockDue(ids: number[], now: Date): Statement<Candidate[]> {
    return {
      sql: `SELECT id, webhook_id, event_position, attempts FROM webhook_deliveries
            WHERE id IN (${ids.map(() => '?').join(', ')}) AND status = 'PENDING' AND next_attempt_at <= ?
            ORDER BY id${this.dialect.forUpdateSkipLocked}`,
      params: [...ids, now],
      read: (rows) =>
        (rows as Record<string, string | number | null>[]).map((r) => ({
          id: Number(r.id),
          webhookId: Number(r.webhook_id),
          eventPosition: Number(r.event_position),
          attempts: Number(r.attempts),
        })),
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
   * Records an attempt's outcome — unless the lease ran out and another worker took the delivery since
   * (`attempts` moved on): then that worker's outcome counts. A delivery done (DELIVERED or FAILED) no
   * longer holds its products' next events back.
   */
  record(delivery: Candidate, outcome: DeliveryOutcome): Statement[] {
    return [
      {
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
      },
      {
        sql: `DELETE FROM webhook_delivery_keys WHERE webhook_id = ? AND event_position = ?
              AND NOT EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = ? AND status = 'PENDING')`,
        params: [delivery.webhookId, delivery.eventPosition, delivery.id],
      },
    ];
  }

  /**
   * Sent again now: a FAILED or DELIVERED delivery back to PENDING (a FAILED one's next failure is final
   * again) and back in its products' order; a PENDING one brought forward.
   */
  retry(delivery: WebhookDelivery, products: number[], now: Date): Statement[] {
    const keys = (products.length ? products : [0]).map((p) => [delivery.webhookId, p, delivery.eventPosition]);
    return [
      {
        sql: "UPDATE webhook_deliveries SET status = 'PENDING', next_attempt_at = ?, delivered_at = NULL WHERE id = ?",
        params: [now, delivery.id],
      },
      this.insertKeys(keys),
    ];
  }

  async countPending(): Promise<number> {
    const [row] = (await this.dataSource.query(
      "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'PENDING'",
    )) as { n: string | number }[];
    return Number(row.n);
  }
}
