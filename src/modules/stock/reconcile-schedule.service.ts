import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { MetricsService } from '../../common/metrics/metrics.service';
import { TypedConfigService } from '../../config';
import { StockService } from './stock.service';

/** Each wait is the interval plus up to this share of it: instances started together drift apart. */
const JITTER = 0.1;
/** The mismatches a scheduled run logs; the route and the CLI give all of them. */
const LOGGED_MISMATCHES = 20;

/**
 * Runs the reconcile every RECONCILE_INTERVAL seconds on every instance (it only reads), so each one's
 * inventory_reconcile_* gauges stay current. The first run comes one interval after the start, never
 * at it; the next wait starts when a run ends, so runs never overlap; a failed run is logged and the
 * next one tries again.
 */
@Injectable()
export class ReconcileSchedule implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ReconcileSchedule.name);
  private readonly intervalMs: number;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly stock: StockService,
    metrics: MetricsService,
    config: TypedConfigService,
  ) {
    const { reconcileIntervalSeconds } = config.getOrThrow('stock', { infer: true });
    this.intervalMs = reconcileIntervalSeconds * 1000;
    metrics.reconcileInterval.set(reconcileIntervalSeconds);
  }

  onApplicationBootstrap(): void {
    if (this.intervalMs > 0) this.scheduleNext();
  }

  /** Before the pool closes: no further run, and the one under way finishes on an open pool. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private scheduleNext(): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => {
        this.running = this.run().finally(() => {
          this.running = undefined;
          this.scheduleNext();
        });
      },
      this.intervalMs * (1 + JITTER * Math.random()),
    );
    this.timer.unref();
  }

  /** One run; never rejects. */
  async run(): Promise<void> {
    try {
      const { checkedLevels, mismatches } = await this.stock.reconcile();
      if (mismatches.length) {
        this.logger.warn(
          { checkedLevels, mismatches: mismatches.slice(0, LOGGED_MISMATCHES) },
          `Scheduled reconcile: ${mismatches.length} stock level(s) disagree with their ledger or reservations`,
        );
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'Scheduled reconcile failed; the next one tries again');
    }
  }
}
