import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SequencesRepository } from '../../database/sequences.repository';
import { TransactionService } from '../../database/transaction.service';
import { EventsRepository, UnplacedEvent } from './events.repository';
import { NewDelivery, Subscription, WebhooksRepository } from './webhooks/webhooks.repository';

/** The sequence feed positions come from (database/sequences.repository.ts). */
export const EVENT_POSITIONS = 'events';
const BATCH = 500;
/** How often each instance looks for events it was not told about (another instance's, or after a crash). */
const POLL_MS = 250;
/**
 * After a commit, wait this long for more before placing: under load one sequencer transaction places
 * the events of many groups (measured: a run per group cost a third of spread-SKU throughput).
 */
const GATHER_MS = 50;

/**
 * Places committed events in the feed. Auto-increment ids are handed out at INSERT, in another order
 * than commits, so the feed cannot use them: a reader could see id 11 before id 10 commits, and then
 * skip it. Instead, under the lock of the `events` sequence row (one placer at a time across every
 * instance), the events that have committed and have no position get the next positions, in id order.
 * A position therefore exists only for a committed event, and positions become visible in order: a
 * reader polling `after=<last position>` sees every event exactly once.
 *
 * In the same transaction each placed event gets a PENDING delivery for every enabled webhook that
 * takes its type and existed when it occurred, so a webhook's deliveries are exactly its events.
 */
@Injectable()
export class EventSequencer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(EventSequencer.name);
  private readonly listeners: (() => void)[] = [];
  private timer?: NodeJS.Timeout;
  private scheduled?: NodeJS.Timeout;
  private running: Promise<number> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly events: EventsRepository,
    private readonly webhooks: WebhooksRepository,
    private readonly sequences: SequencesRepository,
    private readonly tx: TransactionService,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.kick(), POLL_MS);
    this.timer.unref();
    this.kick();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.scheduled);
    await this.running;
  }

  /** Called when events were placed (the delivery worker, the broker publisher). */
  onPlaced(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Events were committed (or may have been): place them soon. Many kicks make one run. */
  kick(): void {
    if (this.stopped) return;
    if (this.running || this.scheduled) {
      this.again = true;
      return;
    }
    this.scheduled = setTimeout(() => {
      this.scheduled = undefined;
      this.running = this.drain().finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
    }, GATHER_MS);
  }

  /** Places everything committed so far; the number placed. */
  async drain(): Promise<number> {
    let placed = 0;
    try {
      for (;;) {
        const n = await this.placeBatch();
        placed += n;
        if (n < BATCH) break;
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'Could not place events; the next run retries');
    }
    if (placed) for (const listener of this.listeners) listener();
    return placed;
  }

  private placeBatch(): Promise<number> {
    return this.tx.runInline(async (tx) => {
      const [next, events, subscriptions] = await tx.query([
        this.sequences.lockNext(EVENT_POSITIONS),
        this.events.unplaced(BATCH),
        this.webhooks.subscriptions(),
      ]);
      if (!events.length) return 0;
      const deliveries = fanOut(events, next, subscriptions);
      let ordered: NewDelivery[] = [];
      if (deliveries.length) {
        // under the lock every finished delivery has released its products (see WebhookDeliveryWorker.record)
        const [pending] = await tx.query([
          this.webhooks.pendingProducts(
            [...new Set(deliveries.map((d) => d.webhookId))],
            [...new Set(deliveries.flatMap((d) => d.products))],
          ),
        ]);
        ordered = inProductOrder(deliveries, pending);
      }
      await tx.commitWith([
        this.events.place(
          events.map((e) => e.id),
          next,
        ),
        this.sequences.advance(EVENT_POSITIONS, next + events.length),
        ...(ordered.length ? this.webhooks.insertDeliveries(ordered, new Date()) : []),
      ]);
      return events.length;
    });
  }
}

/**
 * One delivery per (event, webhook that takes its type and existed when it occurred), in position order,
 * each of at least one product (an event of none counts as of "product 0").
 */
function fanOut(
  events: UnplacedEvent[],
  firstPosition: number,
  subscriptions: Subscription[],
): Omit<NewDelivery, 'waits'>[] {
  return events.flatMap((event, i) =>
    subscriptions
      .filter((s) => s.createdAt <= event.occurredAt && (s.events.includes('*') || s.events.includes(event.type)))
      .map((s) => ({
        webhookId: s.id,
        eventPosition: firstPosition + i,
        eventType: event.type,
        products: event.products.length ? event.products : [0],
      })),
  );
}

/** Each delivery waits for its products that have an older PENDING delivery: `pending`, or an earlier one here. */
function inProductOrder(deliveries: Omit<NewDelivery, 'waits'>[], pending: Set<string>): NewDelivery[] {
  return deliveries.map((d) => {
    const keys = d.products.map((p) => `${d.webhookId}:${p}`);
    const waits = keys.filter((k) => pending.has(k)).length;
    for (const k of keys) pending.add(k);
    return { ...d, waits };
  });
}
