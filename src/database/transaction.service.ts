import { Injectable, Logger } from '@nestjs/common';
import { Mutex } from 'async-mutex';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource, EntityManager } from 'typeorm';
import { ApiError } from '../common/errors/api-error';
import { MetricsService } from '../common/metrics/metrics.service';
import { annotateSpan } from '../common/tracing/tracing';
import { Dialect, dialectOf, retryReason } from './dialect';
import { Transaction, TransactionOptions } from './transaction';

const MAX_ATTEMPTS = 6;
const BASE_BACKOFF_MS = 4;

/**
 * The only way the service writes. On MySQL/MariaDB each unit of work is one transaction on its own
 * pooled connection, retried whole on deadlock, lock-wait timeout or snapshot conflict. SQLite shares
 * one connection, so two transactions at once would fail ("cannot start a transaction within a
 * transaction"): there, writes queue behind one mutex, and each takes the file's write lock at BEGIN
 * (IMMEDIATE), so another process on the file (the CLI) makes it wait, up to the busy timeout, never fail
 * halfway.
 */
@Injectable()
export class TransactionService {
  private readonly logger = new Logger(TransactionService.name);
  private readonly dialect: Dialect;
  private readonly writeLock: Mutex | null;

  constructor(
    private readonly dataSource: DataSource,
    private readonly metrics: MetricsService,
  ) {
    this.dialect = dialectOf(dataSource);
    this.writeLock = this.dialect.sharedConnection ? new Mutex() : null;
  }

  /** `work` inside TypeORM's transaction: its EntityManager's queries are the transaction's. */
  run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.withRetries(() => this.dataSource.transaction(work));
  }

  /**
   * `work` with a Transaction whose BEGIN and COMMIT ride with its first and last round trips (see
   * Transaction). It commits when `work` returns without having done so, and rolls back when it throws.
   */
  runInline<T>(work: (tx: Transaction) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    return this.withRetries(async () => {
      const tx = new Transaction(this.dataSource.createQueryRunner(), this.dialect, options);
      try {
        const result = await work(tx);
        await tx.commit();
        return result;
      } finally {
        await tx.release();
      }
    });
  }

  private withRetries<T>(attemptOnce: () => Promise<T>): Promise<T> {
    // SQLite: one writer at a time in this process; another process on the file (the CLI) can still collide
    return this.writeLock ? this.writeLock.runExclusive(() => this.attempts(attemptOnce)) : this.attempts(attemptOnce);
  }

  private async attempts<T>(attemptOnce: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await attemptOnce();
        annotateSpan({ 'inventory.retries': attempt - 1 });
        return result;
      } catch (error) {
        const reason = retryReason(error);
        if (!reason) throw error;
        this.metrics.dbRetries.inc({ reason });
        annotateSpan({ 'inventory.retries': attempt });
        if (attempt >= MAX_ATTEMPTS) {
          this.logger.warn({ reason, attempts: attempt }, 'Transaction retries exhausted');
          throw ApiError.unavailable('The database is busy; retry shortly');
        }
        // full jitter: spreads the retries of transactions that collided
        await sleep(Math.random() * BASE_BACKOFF_MS * 2 ** attempt);
      }
    }
  }
}
