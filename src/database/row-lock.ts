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

/**
 * The ids of one multi-row INSERT are first, first + 1, …: the stock write path relies on it (one
 * INSERT of a group's movements, then LAST_INSERT_ID()). A server that steps ids by more than 1
 * (Galera's wsrep_auto_increment_control, multi-primary group replication) would give answers and
 * audit entries wrong movement ids, so the service refuses to start there.
 */
export async function assertConsecutiveIds(dataSource: {
  options: { type: string };
  query(sql: string): Promise<unknown>;
}): Promise<void> {
  if (dataSource.options.type === 'better-sqlite3') return;
  const [{ step }] = (await dataSource.query('SELECT @@auto_increment_increment AS step')) as { step: unknown }[];
  if (Number(step) !== 1) {
    throw new Error(
      `auto_increment_increment is ${String(step)} on this database server; the service needs 1 (one primary, or Galera with wsrep_auto_increment_control=OFF)`,
    );
  }
}

interface MysqlConnection {
  query(sql: string, callback: () => void): void;
}
