import { Injectable } from '@nestjs/common';
import { Mutex } from 'async-mutex';
import { DataSource, EntityManager } from 'typeorm';

/**
 * The only way the service writes. On MySQL/MariaDB each unit of work is one transaction on its own
 * pooled connection. better-sqlite3 shares one connection, so two transactions at once would fail
 * ("cannot start a transaction within a transaction"): there, writes queue behind one mutex.
 */
@Injectable()
export class TransactionService {
  private readonly sqliteWriteLock: Mutex | null;

  constructor(private readonly dataSource: DataSource) {
    this.sqliteWriteLock = dataSource.options.type === 'better-sqlite3' ? new Mutex() : null;
  }

  run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    if (this.sqliteWriteLock) {
      return this.sqliteWriteLock.runExclusive(() => this.dataSource.transaction(work));
    }
    return this.dataSource.transaction(work);
  }
}
