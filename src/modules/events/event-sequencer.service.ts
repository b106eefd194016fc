import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SingleFlight } from '../../common/single-flight';
import { SequencesRepository } from '../../database/sequences.repository';
import { TransactionService } from '../../database/transaction.service';
import { EventsRepository } from './events.repository';

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
 */
@Injectable()
export class EventSequencer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(EventSequencer.name);
  private readonly listeners: (() => void)[] = [];
  private timer?: NodeJS.Timeout;
  private readonly runs = new SingleFlight(() => this.drain(), GATHER_MS);

  constructor(
    private readonly events: EventsRepository,
    private readonly sequences: SequencesRepository,
    private readonly tx: TransactionService,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.kick(), POLL_MS);
    this.timer.unref();
    this.kick();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.runs.stop();
  }

  /** Called when events were placed (the delivery worker, the broker publisher). */
  onPlaced(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Events were committed (or may have been): place them soon. Many kicks make one run. */
  kick(): void {
    this.runs.request();
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
    // READ COMMITTED: the range UPDATEs lock only the events they place, not the gap after the last one,
    // where writers append (REPEATABLE READ would make them wait for this transaction, and it for them)
    return this.tx.runInline(
      async (tx) => {
        const [next, ids] = await tx.query([this.sequences.lockNext(EVENT_POSITIONS), this.events.unplaced(BATCH)]);
        if (!ids.length) return 0;
        await tx.commitWith([
          ...this.events.place(ids, next),
          this.sequences.advance(EVENT_POSITIONS, next + ids.length),
        ]);
        return ids.length;
      },
      { readCommitted: true },
    );
  }
}
