import { Injectable, Logger } from '@nestjs/common';
import { Mutex } from 'async-mutex';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';
import { ApiError } from '../common/errors/api-error';
import { MetricsService } from '../modules/metrics/metrics.service';

/** MySQL/MariaDB errors after which the whole transaction is rolled back and tried again. */
const RETRYABLE: Record<number, string> = {
  1213: 'deadlock',
  1205: 'lock_wait_timeout',
  1020: 'snapshot_conflict', // MariaDB 11.6+ innodb_snapshot_isolation: "Record has changed since last read"
};
const MAX_ATTEMPTS = 6;
const BASE_BACKOFF_MS = 4;
export const RETRY_AFTER_SECONDS = 1;

function retryReason(error: unknown): string | null {
  const errno = error instanceof QueryFailedError ? (error.driverError as { errno?: number }).errno : undefined;
  return errno !== undefined ? (RETRYABLE[errno] ?? null) : null;
}

/**
 * The only way the service writes. On MySQL/MariaDB each unit of work is one transaction on its own
 * pooled connection, retried whole on deadlock, lock-wait timeout or snapshot conflict. better-sqlite3
 * shares one connection, so two transactions at once would fail ("cannot start a transaction within
 * a transaction"): there, writes queue behind one mutex.
 */
@Injectable()
export class TransactionService {
  private readonly logger = new Logger(TransactionService.name);
  private readonly sqliteWriteLock: Mutex | null;

  constructor(
    private readonly dataSource: DataSource,
    private readonly metrics: MetricsService,
  ) {
    this.sqliteWriteLock = dataSource.options.type === 'better-sqlite3' ? new Mutex() : null;
  }

  async run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    if (this.sqliteWriteLock) {
      return this.sqliteWriteLock.runExclusive(() => this.dataSource.transaction(work));
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.dataSource.transaction(work);
      } catch (error) {
        const reason = retryReason(error);
        if (!reason) throw error;
        this.metrics.dbRetries.inc({ reason });
        if (attempt >= MAX_ATTEMPTS) {
          this.logger.warn({ reason, attempts: attempt }, 'Transaction retries exhausted');
          throw new ApiError(
            'SERVICE_UNAVAILABLE',
            'The database is busy; retry shortly',
            undefined,
            RETRY_AFTER_SECONDS,
          );
        }
        // full jitter: spreads the retries of transactions that collided
        await sleep(Math.random() * BASE_BACKOFF_MS * 2 ** attempt);
      }
    }
  }
}
