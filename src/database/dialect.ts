import { DataSource, ObjectLiteral, QueryFailedError, SelectQueryBuilder } from 'typeorm';

/**
 * The one place where SQLite (better-sqlite3, one connection inside the process) and MySQL/MariaDB
 * (a pool of connections, a round trip per query) differ: the SQL of locks, what a driver error
 * means, and what each server needs at start.
 * The rest of the code asks `dialectOf(…)` instead of checking the driver.
 */

export interface Dialect {
  /** Appended to a SELECT: a shared lock on what it reads (MySQL), nothing where every write runs alone. */
  readonly shareLock: string;
  /** Appended to a SELECT: an exclusive lock on what it reads. */
  readonly forUpdate: string;
  /** Column type for text past 64 KB, where `text` would not hold it (SQLite's TEXT has no such limit). */
  readonly longText?: 'mediumtext';
  /** One connection shared by everything (SQLite): two transactions at once would nest, so writes queue. */
  readonly sharedConnection: boolean;
  /** Settings the service needs from the server, checked and applied once at start. */
  prepare(dataSource: DataSource): Promise<void>;
  /** Runs the migrations `work` while no other instance migrates (several may start at once on one MySQL database). */
  withMigrationLock<T>(dataSource: DataSource, work: () => Promise<T>): Promise<T>;
}

/** A lock wait past this is rolled back and retried (TransactionService), never left to hang for InnoDB's 50 s. */
const LOCK_WAIT_TIMEOUT_SECONDS = 3;
const MIGRATION_LOCK = 'inventory_migrations';
const MIGRATION_LOCK_WAIT_SECONDS = 120;

const MYSQL: Dialect = {
  shareLock: ' LOCK IN SHARE MODE',
  forUpdate: ' FOR UPDATE',
  longText: 'mediumtext',
  sharedConnection: false,
  async prepare(dataSource) {
    await assertConsecutiveIds(dataSource);
    await useShortLockWaits(dataSource);
  },
  async withMigrationLock(dataSource, work) {
    const runner = dataSource.createQueryRunner();
    try {
      const [row] = (await runner.query('SELECT GET_LOCK(?, ?) AS got', [
        MIGRATION_LOCK,
        MIGRATION_LOCK_WAIT_SECONDS,
      ])) as { got: number | string | null }[];
      if (Number(row?.got) !== 1) throw new Error('Timed out waiting for another instance to finish migrating');
      try {
        return await work();
      } finally {
        await runner.query('SELECT RELEASE_LOCK(?)', [MIGRATION_LOCK]);
      }
    } finally {
      await runner.release();
    }
  },
};

const SQLITE: Dialect = {
  shareLock: '',
  forUpdate: '',
  sharedConnection: true,
  async prepare() {},
  withMigrationLock: (_dataSource, work) => work(), // one process owns the file
};

export function dialectOf(source: { options: { type: string } }): Dialect {
  return source.options.type === 'better-sqlite3' ? SQLITE : MYSQL;
}

/** `SELECT … FOR UPDATE` where rows lock; SQLite runs every write transaction alone, the stronger guarantee. */
export function forUpdate<T extends ObjectLiteral>(query: SelectQueryBuilder<T>): SelectQueryBuilder<T> {
  return dialectOf(query.connection).forUpdate ? query.setLock('pessimistic_write') : query;
}

/** A raw datetime as a Date: SQLite hands it back as UTC text without a zone. */
export function rawDate(value: string | number | Date): Date {
  if (value instanceof Date) return value;
  return new Date(typeof value === 'string' && !value.endsWith('Z') ? `${value.replace(' ', 'T')}Z` : value);
}

// ---------------------------------------------------------------- what a driver error means

interface DriverError {
  code?: string;
  errno?: number;
  message?: string;
}

const driverError = (error: unknown) =>
  (error instanceof QueryFailedError ? error.driverError : null) as DriverError | null;

/** MySQL/MariaDB errors after which the whole transaction is rolled back and tried again, by metric reason. */
const RETRYABLE: Record<number, string> = {
  1213: 'deadlock',
  1205: 'lock_wait_timeout',
  1020: 'snapshot_conflict', // MariaDB 11.6+ innodb_snapshot_isolation: "Record has changed since last read"
};

/** Why the transaction that failed with `error` may be tried again, or null when it may not. */
export function retryReason(error: unknown): string | null {
  const errno = driverError(error)?.errno;
  return errno !== undefined ? (RETRYABLE[errno] ?? null) : null;
}

const DUPLICATE_KEY_CODES = ['ER_DUP_ENTRY', 'SQLITE_CONSTRAINT_PRIMARYKEY', 'SQLITE_CONSTRAINT_UNIQUE'];

/** A primary-key or unique-index violation; its message names the index (MySQL) or table.column (SQLite). */
export function duplicateKey(error: unknown): { message: string } | null {
  const driver = driverError(error);
  return driver && DUPLICATE_KEY_CODES.includes(driver.code ?? '') ? { message: driver.message ?? '' } : null;
}

/** Driver error codes that mean "the database is not there right now", not "the request is wrong". */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'SQLITE_BUSY',
]);

export function isDatabaseUnavailable(error: unknown): boolean {
  const driver = (error instanceof QueryFailedError ? error.driverError : error) as DriverError | null;
  if (!driver || typeof driver !== 'object') return false;
  if (driver.code && UNAVAILABLE_CODES.has(driver.code)) return true;
  return /pool is closed|connection is in closed state|can't add new command when connection is in closed state/i.test(
    driver.message ?? '',
  );
}

// ---------------------------------------------------------------- what a MySQL server needs

/** Sets the short lock-wait timeout on every pooled MySQL connection, present and future. */
async function useShortLockWaits(dataSource: DataSource): Promise<void> {
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
export async function assertConsecutiveIds(dataSource: { query(sql: string): Promise<unknown> }): Promise<void> {
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
