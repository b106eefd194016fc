import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RowDataPacket } from 'mysql2';
import { DataSource, DataSourceOptions, QueryRunner, ReplicationMode } from 'typeorm';
import { DatabaseConfig } from '../config/database.config';
import { isBigId, isLongText } from './columns';
import { dialectOf } from './dialect';
import { MYSQL_MIGRATIONS, SQLITE_MIGRATIONS } from './migrations';

/** The entity classes of every table (src/entities.ts): database/ names no feature module itself. */
export type Entities = NonNullable<DataSourceOptions['entities']>;
const SQLITE_BUSY_TIMEOUT_MS = 5000;

export type MysqlFlavor = 'mysql' | 'mariadb';

/**
 * DB_TYPE=mysql serves MySQL 8 and MariaDB alike; TypeORM reads MariaDB's schema correctly only
 * when told it is MariaDB, so ask the server once at start.
 */
export async function detectMysqlFlavor(db: Extract<DatabaseConfig, { type: 'mysql' }>): Promise<MysqlFlavor> {
  // loaded here, not at the top: on SQLite nothing needs mysql2 (TypeORM loads it itself for MySQL)
  const { createConnection } = await import('mysql2/promise');
  const conn = await createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
  try {
    const [rows] = await conn.query<({ version: string } & RowDataPacket)[]>('SELECT VERSION() AS version');
    return /mariadb/i.test(rows[0].version) ? 'mariadb' : 'mysql';
  } finally {
    await conn.end();
  }
}

/** Options with the server flavour detected: what the app and the tests connect with. */
export async function resolveDataSourceOptions(db: DatabaseConfig, entities: Entities): Promise<DataSourceOptions> {
  return dataSourceOptions(db, entities, db.type === 'mysql' ? await detectMysqlFlavor(db) : 'mysql');
}

/** One place that turns config into TypeORM options, for the app, the CLI and the tests. */
export function dataSourceOptions(
  db: DatabaseConfig,
  entities: Entities,
  flavor: MysqlFlavor = 'mysql',
): DataSourceOptions {
  const common = {
    entities,
    synchronize: false,
    migrationsRun: false,
    migrationsTableName: 'migrations',
    logging: false,
  } as const;
  if (db.type === 'mysql') {
    return {
      ...common,
      type: flavor,
      host: db.host,
      port: db.port,
      username: db.user,
      password: db.password,
      database: db.name,
      timezone: 'Z',
      charset: 'utf8mb4_unicode_ci',
      poolSize: db.poolSize,
      extra: {
        // no async stack capture per query: measurable CPU on the hot path, and errors still carry their SQL
        trace: false,
        // free connections idle past the timeout close (mysql2 sweeps every second once maxIdle < poolSize)
        idleTimeout: db.pool.idleTimeoutMs,
        maxIdle: Math.max(1, db.poolSize - 1),
      },
      // the stock write sends its statements in one round trip (every value goes as a parameter)
      multipleStatements: true,
      migrations: MYSQL_MIGRATIONS,
    };
  }
  if (db.path !== ':memory:') mkdirSync(dirname(db.path), { recursive: true });
  return {
    ...common,
    type: 'better-sqlite3',
    database: db.path,
    enableWAL: true,
    // SQLite's LOWER() folds ASCII only; searches must match "Ärger" with "ärger" as MySQL does
    prepareDatabase: (db: { function(name: string, options: object, fn: (v: unknown) => unknown): void }) =>
      db.function('lower', { deterministic: true }, (v) => (typeof v === 'string' ? v.toLowerCase() : v)),
    timeout: SQLITE_BUSY_TIMEOUT_MS,
    migrations: SQLITE_MIGRATIONS,
  };
}

/** TypeORM's BEGIN on SQLite (a deferred transaction), hard-coded in its query runner. */
const TYPEORM_SQLITE_BEGIN = 'BEGIN TRANSACTION';
const beginsImmediately = new WeakSet<QueryRunner>();

/**
 * The DataSource of the service, the CLI and the TypeORM CLI. TypeORM has no per-driver column type,
 * so the metadata of each LongTextColumn is widened where the dialect says (MEDIUMTEXT on MySQL/MariaDB,
 * matching the migrations; SQLite's TEXT has no such limit), and each BigIdColumn is SQLite's INTEGER there.
 * On SQLite, TypeORM's transactions begin as the dialect's do: IMMEDIATE (why: dialect.ts).
 */
export class InventoryDataSource extends DataSource {
  override createQueryRunner(mode?: ReplicationMode): QueryRunner {
    const runner = super.createQueryRunner(mode);
    // SQLite shares one runner: it is wrapped once
    if (this.options.type === 'better-sqlite3' && !beginsImmediately.has(runner)) {
      beginsImmediately.add(runner);
      const { begin } = dialectOf(this);
      const query = runner.query.bind(runner) as (sql: string, ...rest: unknown[]) => Promise<unknown>;
      runner.query = ((sql: string, ...rest: unknown[]) =>
        query(sql === TYPEORM_SQLITE_BEGIN ? begin : sql, ...rest)) as QueryRunner['query'];
    }
    return runner;
  }

  protected override async buildMetadatas(): Promise<void> {
    await super.buildMetadatas();
    const { longText, autoIncrementId } = dialectOf(this);
    for (const metadata of this.entityMetadatas) {
      for (const column of metadata.columns) {
        if (longText && isLongText(metadata.target, column.propertyName)) column.type = longText;
        if (autoIncrementId && isBigId(metadata.target, column.propertyName)) column.type = autoIncrementId;
      }
    }
  }
}
