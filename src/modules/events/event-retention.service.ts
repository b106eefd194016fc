import { BeforeApplicationShutdown, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { SingleFlight } from '../../common/single-flight';
import { TypedConfigService } from '../../config';
import { Statement } from '../../database/dialect';
import { TransactionService } from '../../database/transaction.service';
import { BROKER_CURSOR } from './amqp-publisher.service';
import { EventsRepository } from './events.repository';
import { OutboxCursorsRepository } from './outbox-cursors.repository';
import { WebhooksRepository } from './webhooks/webhooks.repository';

const PURGE_EVERY_MS = 10 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Rows deleted per statement: short statements, never a long lock on the outbox the writers append to. */
const BATCH = 1000;

/**
 * Keeps the outbox from growing for ever: every 10 minutes, on every instance (a purge is idempotent),
 * deletes delivered and failed webhook deliveries created more than `EVENTS_RETENTION_DAYS` (7) ago,
 * then the events that occurred before then — but only those every destination is done with: at or
 * behind the broker's cursor (while some instance publishes, that is, has held its lease since then),
 * behind every enabled webhook's fan-out cursor, older than the oldest delivery still kept, and never
 * the newest event. So a receiver or broker that is down for longer than the retention delays the
 * purge and loses nothing.
 */
@Injectable()
export class EventRetention implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(EventRetention.name);
  private readonly retentionMs: number;
  private timer?: NodeJS.Timeout;
  /** One purge at a time; a shutdown waits for the one running before the pool closes. */
  private readonly runs = new SingleFlight(() => this.purgeLogged());

  constructor(
    private readonly events: EventsRepository,
    private readonly webhooks: WebhooksRepository,
    private readonly cursors: OutboxCursorsRepository,
    private readonly tx: TransactionService,
    config: TypedConfigService,
  ) {
    this.retentionMs = config.getOrThrow('events', { infer: true }).retentionDays * DAY_MS;
  }

  onModuleInit(): void {
    this.timer = setInterval(() => this.runs.request(), PURGE_EVERY_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.runs.stop();
  }

  /** One purge pass as of `now`: how many deliveries and events it deleted. */
  async purge(now = new Date()): Promise<{ deliveries: number; events: number }> {
    const cutoff = new Date(now.getTime() - this.retentionMs);
    const deliveries = await this.deleteInBatches(
      () => this.webhooks.finishedBefore(cutoff, BATCH),
      (ids) => this.webhooks.deleteFinished(ids),
    );
    // read after the deliveries went: what is left still needs its event (the cursor read binds a time: the
    // transaction's statements bind it as each driver needs)
    const [brokerCursor] = await this.tx.runInline((tx) =>
      tx.query([this.cursors.positionIfLeasedSince(BROKER_CURSOR, cutoff)]),
    );
    const bounds = await Promise.all([
      this.events.lastPosition().then((last) => last - 1),
      this.webhooks.lowestEnabledCursor(),
      this.webhooks.oldestDeliveredPosition().then((p) => (p === null ? null : p - 1)),
    ]);
    const upTo = Math.min(...[brokerCursor, ...bounds].filter((b): b is number => b !== null));
    const events =
      upTo > 0
        ? await this.deleteInBatches(
            () => this.events.placedBefore(upTo, cutoff, BATCH),
            (ids) => this.events.delete(ids),
          )
        : 0;
    return { deliveries, events };
  }

  /** Selects and deletes a batch per transaction until a batch comes back short; how many rows went. */
  private async deleteInBatches(
    select: () => Statement<number[]>,
    remove: (ids: number[]) => Statement,
  ): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await this.tx.runInline(async (tx) => {
        const [ids] = await tx.query([select()]);
        if (ids.length) await tx.commitWith([remove(ids)]);
        return ids.length;
      });
      total += deleted;
      if (deleted < BATCH) return total;
    }
  }

  private async purgeLogged(): Promise<void> {
    try {
      const purged = await this.purge();
      if (purged.deliveries || purged.events) this.logger.log(purged, 'Purged events and deliveries past retention');
    } catch (error) {
      this.logger.warn({ err: error }, 'Could not purge old events');
    }
  }
}
