import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { StockLedgerService } from '../stock-ledger.service';
import { ReservationsRepository } from './reservations.repository';

/** How often each instance looks for reservations whose time is up: the contract allows 2 s. */
export const EXPIRY_SWEEP_EVERY_MS = 500;
const SWEEP_BATCH = 200;

/**
 * Expires ACTIVE reservations whose time is up, on every instance. Each expiry is a stock write on the
 * one write path (the hold released, an audit entry without actor), so it is exactly-once: it locks
 * the reservation row and re-checks its status; two instances never wait on each other (a row another
 * one holds is passed over), and one that dies mid-sweep rolls back, so its reservations are swept again.
 */
@Injectable()
export class ReservationExpiry implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReservationExpiry.name);
  private timer?: NodeJS.Timeout;
  private sweeping = false;

  constructor(
    private readonly reservations: ReservationsRepository,
    private readonly ledger: StockLedgerService,
    private readonly metrics: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep(), EXPIRY_SWEEP_EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One sweep: the reservations due now, each expired unless another instance got there first. Returns how many. */
  async sweep(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    try {
      const due = await this.reservations.findRecords(await this.reservations.dueIds(new Date(), SWEEP_BATCH));
      const results = await Promise.allSettled(due.map((record) => this.ledger.expire(record)));
      const expired = results.filter((r) => r.status === 'fulfilled' && r.value).length;
      if (expired) this.metrics.reservations.inc({ outcome: 'expired' }, expired);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed)
        this.logger.warn({ err: failed.reason }, 'Could not expire every reservation due; the next sweep retries');
      return expired;
    } catch (error) {
      this.logger.warn({ err: error }, 'Reservation expiry sweep failed; the next one retries');
      return 0;
    } finally {
      this.sweeping = false;
    }
  }
}
