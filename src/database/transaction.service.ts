import { Injectable, Logger } from '@nestjs/common';
import { Mutex } from 'async-mutex';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource, EntityManager } from 'typeorm';
import { ApiError } from '../common/errors/api-error';
import { RETRY_AFTER_SECONDS } from '../common/errors/error-codes';
import { MetricsService } from '../common/metrics/metrics.service';
import { dialectOf, retryReason } from './dialect';

const MAX_ATTEMPTS = 6;
const BASE_BACKOFF_MS = 4;

export interface TransactionBounds {
  begin: string;
  commit: string;
}

/**
 * The only way the service writes. On MySQL/MariaDB each unit of work is one transaction on its own
 * pooled connection, retried whole on deadlock, lock-wait timeout or snapshot conflict. SQLite
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
    this.sqliteWriteLock = dialectOf(dataSource).sharedConnection ? new Mutex() : null;
  }

  run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.withRetries(() => this.dataSource.transaction(work));
  }

  /**
   * A transaction whose BEGIN and COMMIT ride with the work's first and last round trips: the work puts
   * `bounds.begin` before its first statements and `bounds.commit` after its last ones (MySQL runs them
   * as one multi-statement query each). Any failure rolls back. On SQLite the bounds are empty and the
   * work runs inside an ordinary transaction.
   */
  runInline<T>(work: (manager: EntityManager, bounds: TransactionBounds) => Promise<T>): Promise<T> {
    if (this.sqliteWriteLock) return this.run((manager) => work(manager, { begin: '', commit: '' }));
    return this.withRetries(async () => {
      const runner = this.dataSource.createQueryRunner();
      try {
        await runner.connect();
        return await work(runner.manager, { begin: 'START TRANSACTION', commit: 'COMMIT' });
      } catch (error) {
        await runner.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        await runner.release();
      }
    });
  }

  private async withRetries<T>(attemptOnce: () => Promise<T>): Promise<T> {
    if (this.sqliteWriteLock) return this.sqliteWriteLock.runExclusive(attemptOnce);
    for (let attempt = 1; ; attempt++) {
      try {
        return await attemptOnce();
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
