import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { MetricsService } from '../../common/metrics/metrics.service';
import { ShutdownState } from './shutdown-state';

/** How old the database's state in a readiness answer may be: many probes cost one check a second. */
export const READINESS_CHECK_MAX_AGE_MS = 1000;
/** A ping slower than this is a database that is gone (fits the contract's 2 s with the cache's 1 s). */
const PING_TIMEOUT_MS = 800;

export interface DatabaseState {
  reachable: boolean;
  schemaCurrent: boolean;
}

/**
 * The database half of readiness: a ping and the migrations check, run at most once per second
 * however many probes ask (concurrent probes share the check in flight). A scrape reads
 * inventory_ready through it (running one when the last is over a second old), so the gauge is fresh
 * when nobody probes.
 */
@Injectable()
export class ReadinessCheck {
  private last?: { startedAt: number; state: Promise<DatabaseState> };

  constructor(
    private readonly dataSource: DataSource,
    private readonly shutdown: ShutdownState,
    metrics: MetricsService,
  ) {
    // inventory_ready is read at each scrape, through the same cached check
    metrics.readinessCheck = async () => this.passes(await this.database());
  }

  database(): Promise<DatabaseState> {
    const now = Date.now();
    if (!this.last || now - this.last.startedAt >= READINESS_CHECK_MAX_AGE_MS) {
      this.last = { startedAt: now, state: this.check() };
    }
    return this.last.state;
  }

  /** What GET /health/ready answers 200 to: the database answers, its schema is current, no shutdown begun. */
  passes(state: DatabaseState): boolean {
    return state.reachable && state.schemaCurrent && !this.shutdown.shuttingDown;
  }

  /** Reads the database's state; never rejects (a failure is the answer). */
  async check(): Promise<DatabaseState> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('ping timed out')), PING_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.dataSource.query('SELECT 1'), timeout]);
    } catch {
      return { reachable: false, schemaCurrent: false };
    } finally {
      clearTimeout(timer);
    }
    try {
      return { reachable: true, schemaCurrent: !(await this.dataSource.showMigrations()) };
    } catch {
      return { reachable: true, schemaCurrent: false };
    }
  }
}
