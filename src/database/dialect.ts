import { DataSource, EntityManager, ObjectLiteral, QueryFailedError, QueryRunner, SelectQueryBuilder } from 'typeorm';

/**
 * The one place where SQLite (better-sqlite3, one connection inside the process) and MySQL/MariaDB
 * (a pool of connections, a round trip per query) differ: the SQL of locks and batches, how a batch
 * names the ids its INSERT gave, what a driver error means, and what each server needs at start.
 * The rest of the code asks `dialectOf(…)` instead of checking the driver.
 */

/** One SQL statement and its parameters; `read` turns its raw result into what the caller wants. */
export interface Statement<T = unknown> {
  sql: string;
  params: unknown[];
  read?: (raw: unknown) => T;
}

/** A multi-row INSERT whose ids later statements of the same batch refer to (the ids of one INSERT are consecutive). */
export interface Insert extends Statement {
  rows: number;
}

/** How statements that follow an INSERT in one batch name the ids it gave. */
export interface InsertedIds {
  /** The id of inserted row `index` (in VALUES order). */
  id(index: number): Statement;
  /** `value` as JSON text, each PLACEHOLDER_ID(i) in it replaced by the id of inserted row i. */
  json(value: unknown): Statement;
}

/** The part of a transaction a dialect drives (database/transaction.ts). */
export interface Batches {
  query(statements: Statement[]): Promise<unknown[]>;
  commitWith(statements: Statement[]): Promise<unknown[]>;
}

export interface Dialect {
  readonly begin: string;
  readonly commit: string;
  readonly rollback: string;
  /** Sent before BEGIN: the next transaction reads committed rows and takes no gap locks (MySQL); none where writes run alone. */
  readonly readCommitted?: string;
  /** Appended to a SELECT: a shared lock on what it reads (MySQL), nothing where every write runs alone. */
  readonly shareLock: string;
  /** Appended to a SELECT: an exclusive lock on what it reads. */
  readonly forUpdate: string;
  /** Appended to a SELECT: an exclusive lock on what it reads, passing over rows another transaction holds. */
  readonly forUpdateSkipLocked: string;
  /** An INSERT that skips rows whose key exists. */
  readonly insertIgnore: string;
  /** Column type for text past 64 KB, where `text` would not hold it (SQLite's TEXT has no such limit). */
  readonly longText?: 'mediumtext';
  /** Column type of a 64-bit auto-increment id where BIGINT cannot be one (SQLite: INTEGER, 64-bit). */
  readonly autoIncrementId?: 'integer';
  /** One connection shared by everything (SQLite): two transactions at once would nest, so writes queue. */
  readonly sharedConnection: boolean;
  /** Runs the statements in order — on MySQL as one multi-statement query, one round trip — and returns each one's result. */
  send(runner: QueryRunner, statements: Statement[]): Promise<unknown[]>;
  /**
   * `before`, then `insert`, then what `after` builds (naming the inserted ids through `ids`), then
   * COMMIT: one round trip on MySQL, where the ids are known only to the server. Returns the first id.
   */
  commitWithInsert(
    tx: Batches,
    before: Statement[],
    insert: Insert,
    after: (ids: InsertedIds) => Statement[],
  ): Promise<number>;
  /** Settings the service needs from the server, checked and applied once at start. */
  prepare(dataSource: DataSource): Promise<void>;
  /** Runs the migrations `work` while no other instance migrates (several may start at once on one MySQL database). */
  withMigrationLock<T>(dataSource: DataSource, work: (lockHolder?: QueryRunner) => Promise<T>): Promise<T>;
}

/**
 * Before an INSERT runs its rows' ids are not known: what refers to them carries PLACEHOLDER_ID(i) =
 * -(i+1) instead, a value no real id takes, and the dialect fills in the real ids (withIds, jsonWithIdsSql).
 */
export const PLACEHOLDER_ID = (index: number) => -(index + 1);
const PLACEHOLDER_IN_JSON = /"id":-(\d+)(?=[,}])/g;

/** For a batch that inserts no rows others refer to: JSON goes as it is, and no row id can be asked for. */
export const NO_INSERTED_IDS: InsertedIds = {
  id: () => {
    throw new Error('This batch inserts no rows to refer to');
  },
  json: (value) => ({ sql: '?', params: [JSON.stringify(value)] }),
};

/** `value` with every placeholder `"id"` replaced, the first inserted row having got `firstId`. */
export function withIds<T>(value: T, firstId: number): T {
  return JSON.parse(jsonWithIds(JSON.stringify(value), firstId)) as T;
}

function jsonWithIds(json: string, firstId: number): string {
  return json.replace(PLACEHOLDER_IN_JSON, (_, n: string) => `"id":${firstId + Number(n) - 1}`);
}

/** The same substitution in SQL: JSON text built by CONCAT, the ids counted from `firstIdSql`. */
export function jsonWithIdsSql(json: string, firstIdSql: string): Statement {
  // split keeps the captured placeholder numbers: text, n, text, n, …, text
  const pieces = json.split(PLACEHOLDER_IN_JSON);
  const sql = pieces.map((piece, i) => (i % 2 ? `'"id":', ${firstIdSql} + ${Number(piece) - 1}` : '?'));
  return { sql: `CONCAT(${sql.join(', ')})`, params: pieces.filter((_, i) => i % 2 === 0) };
}

/** A lock wait past this is rolled back and retried (TransactionService), never left to hang for InnoDB's 50 s. */
const LOCK_WAIT_TIMEOUT_SECONDS = 3;
const MIGRATION_LOCK = 'inventory_migrations';
const MIGRATION_LOCK_WAIT_SECONDS = 120;
const FIRST_ID = '@first_insert_id';

const MYSQL: Dialect = {
  begin: 'START TRANSACTION',
  commit: 'COMMIT',
  rollback: 'ROLLBACK',
  readCommitted: 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED',
  shareLock: ' LOCK IN SHARE MODE',
  forUpdate: ' FOR UPDATE',
  forUpdateSkipLocked: ' FOR UPDATE SKIP LOCKED', // MySQL 8, MariaDB 10.6+
  insertIgnore: 'INSERT IGNORE',
  longText: 'mediumtext',
  sharedConnection: false,
  async send(runner, statements) {
    const sql = statements.map((s) => s.sql).join(';\n');
    const results: unknown = await runner.query(
      sql,
      statements.flatMap((s) => s.params),
    );
    return statements.length === 1 ? [results] : (results as unknown[]);
  },
  async commitWithInsert(tx, before, insert, after) {
    const ids: InsertedIds = {
      id: (index) => ({ sql: `${FIRST_ID} + ${index}`, params: [] }),
      json: (value) => jsonWithIdsSql(JSON.stringify(value), FIRST_ID),
    };
    const remember = { sql: `SET ${FIRST_ID} = LAST_INSERT_ID()`, params: [] };
    const results = await tx.commitWith([...before, insert, remember, ...after(ids)]);
    return Number((results[before.length] as { insertId: number }).insertId); // the first row's id
  },
  async prepare(dataSource) {
    await assertConsecutiveIds(dataSource);
    await assertRowBinlog(dataSource);
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
        return await work(runner);
      } finally {
        await runner.query('SELECT RELEASE_LOCK(?)', [MIGRATION_LOCK]);
      }
    } finally {
      await runner.release();
    }
  },
};

/** A time as the text TypeORM writes for a datetime column: UTC with milliseconds (both drivers read it). */
export const sqlDateTime = (date: Date) => date.toISOString().replace('T', ' ').slice(0, 23);

/** better-sqlite3 binds no Date. */
const sqliteParam = (value: unknown) => (value instanceof Date ? sqlDateTime(value) : value);

const SQLITE: Dialect = {
  // the file's write lock from the start: a deferred transaction that read first and then wrote while
  // another process (the CLI beside the service) held that lock failed at once with SQLITE_BUSY, its busy
  // timeout never consulted; taken at BEGIN, the wait is the busy timeout's, and no snapshot goes stale
  begin: 'BEGIN IMMEDIATE TRANSACTION',
  commit: 'COMMIT',
  rollback: 'ROLLBACK',
  shareLock: '',
  forUpdate: '',
  forUpdateSkipLocked: '',
  insertIgnore: 'INSERT OR IGNORE',
  autoIncrementId: 'integer',
  sharedConnection: true,
  async send(runner, statements) {
    const results: unknown[] = [];
    for (const { sql, params } of statements) results.push(await runner.query(sql, params.map(sqliteParam)));
    return results;
  },
  async commitWithInsert(tx, before, insert, after) {
    const results = await tx.query([...before, insert]);
    const firstId = Number(results.at(-1)) - insert.rows + 1; // better-sqlite3 answers the last row's id
    await tx.commitWith(
      after({
        id: (index) => ({ sql: '?', params: [BigInt(firstId + index)] }), // an INTEGER: a number binds as REAL ("5.0" in a text column)
        json: (value) => ({ sql: '?', params: [jsonWithIds(JSON.stringify(value), firstId)] }),
      }),
    );
    return firstId;
  },
  async prepare() {},
  withMigrationLock: (_dataSource, work) => work(), // one process owns the file
};

export function dialectOf(source: { options: { type: string } }): Dialect {
  return source.options.type === 'better-sqlite3' ? SQLITE : MYSQL;
}

/**
 * Statements inside the transaction of `manager` (TransactionService.run), values bound as the dialect
 * binds them: plain multi-row INSERTs where TypeORM's insert builder costs time quadratic in the rows.
 */
export function runStatements(manager: EntityManager, statements: Statement[]): Promise<unknown[]> {
  if (!manager.queryRunner) throw new Error('Statements run inside a transaction (TransactionService.run)');
  return dialectOf(manager.connection).send(manager.queryRunner, statements);
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
  // SQLite: none. Its transactions take the write lock at BEGIN (IMMEDIATE), so no snapshot goes stale
  // under them, and SQLITE_BUSY means another process held the lock past the busy timeout
  const errno = driverError(error)?.errno;
  return errno === undefined ? null : (RETRYABLE[errno] ?? null);
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
  'POOL_ACQUIRE_TIMEOUT', // every pooled connection stayed busy past DB_POOL_ACQUIRE_TIMEOUT_MS (pool-limits.ts)
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

/**
 * Stock groups (reservation expiry included), the event sequencer and webhook delivery claims run READ
 * COMMITTED, which InnoDB cannot log to a statement-based binary log: every such write would fail there,
 * so the service refuses to start.
 */
export async function assertRowBinlog(dataSource: { query(sql: string): Promise<unknown> }): Promise<void> {
  const [{ logBin, format }] = (await dataSource.query('SELECT @@log_bin AS logBin, @@binlog_format AS format')) as {
    logBin: unknown;
    format: unknown;
  }[];
  if (Number(logBin) === 1 && String(format).toUpperCase() === 'STATEMENT') {
    throw new Error(
      'binlog_format is STATEMENT on this database server; the service writes in READ COMMITTED and needs ROW or MIXED',
    );
  }
}

interface MysqlConnection {
  query(sql: string, callback: () => void): void;
}
