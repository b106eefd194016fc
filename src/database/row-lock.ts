import { DataSource, ObjectLiteral, SelectQueryBuilder } from 'typeorm';

/** A lock wait past this is rolled back and retried (TransactionService), never left to hang for InnoDB's 50 s. */
export const LOCK_WAIT_TIMEOUT_SECONDS = 3;

/**
 * `SELECT … FOR UPDATE` on MySQL/MariaDB. SQLite has no row locks: there every write transaction
 * already runs alone (TransactionService serializes them), which is the stronger guarantee.
 */
export function forUpdate<T extends ObjectLiteral>(query: SelectQueryBuilder<T>): SelectQueryBuilder<T> {
  return query.connection.options.type === 'better-sqlite3' ? query : query.setLock('pessimistic_write');
}

/** Sets the short lock-wait timeout on every pooled MySQL connection, present and future. */
export async function useShortLockWaits(dataSource: DataSource): Promise<void> {
  if (dataSource.options.type === 'better-sqlite3') return;
  const statement = `SET SESSION innodb_lock_wait_timeout = ${LOCK_WAIT_TIMEOUT_SECONDS}`;
  const pool = (
    dataSource.driver as unknown as { pool: { on(event: 'connection', cb: (c: MysqlConnection) => void): void } }
  ).pool;
  pool.on('connection', (connection) => connection.query(statement, () => undefined));
  await dataSource.query(statement); // the connection TypeORM opened before the listener existed
}

interface MysqlConnection {
  query(sql: string, callback: () => void): void;
}
