import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createConnection } from 'mysql2/promise';

export type TestDbType = 'sqlite' | 'mysql';

/** Which driver this jest project runs on (set by the project's setup file). */
export function testDbType(): TestDbType {
  return process.env.TEST_DB_TYPE === 'mysql' ? 'mysql' : 'sqlite';
}

export const MYSQL_TEST_SERVER = {
  host: process.env.TEST_DB_HOST ?? '127.0.0.1',
  port: Number(process.env.TEST_DB_PORT ?? 3306),
  user: process.env.TEST_DB_USER ?? 'root',
  password: process.env.TEST_DB_PASSWORD ?? '',
};

/** Tests only ever touch databases whose name says so. */
export function assertTestDatabaseName(name: string): void {
  if (!name.toLowerCase().includes('test')) {
    throw new Error(`Refusing to run tests against database "${name}": its name must contain "test"`);
  }
}

export interface TestDatabase {
  env: Record<string, string>;
  /** One statement on its own connection, beside whatever service runs on the database. */
  query<T = unknown>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

/** A fresh, empty database for one suite: a temp SQLite file, or a new MariaDB/MySQL schema. */
export async function createTestDatabase(type: TestDbType = testDbType()): Promise<TestDatabase> {
  if (type === 'sqlite') {
    const folder = mkdtempSync(join(tmpdir(), 'inventory-test-'));
    const path = join(folder, 'inventory-test.sqlite');
    return {
      env: { DB_TYPE: 'sqlite', DB_PATH: path },
      query: async <T>(sql: string, params: unknown[] = []) => {
        const db = new Database(path, { timeout: 5000 });
        try {
          const statement = db.prepare(sql);
          return (statement.reader ? statement.all(...params) : (statement.run(...params), [])) as T[];
        } finally {
          db.close();
        }
      },
      drop: async () => rmSync(folder, { recursive: true, force: true }),
    };
  }
  const name = `inventory_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  assertTestDatabaseName(name);
  const admin = await createConnection(MYSQL_TEST_SERVER);
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  await admin.end();
  return {
    env: {
      DB_TYPE: 'mysql',
      DB_HOST: MYSQL_TEST_SERVER.host,
      DB_PORT: String(MYSQL_TEST_SERVER.port),
      DB_USER: MYSQL_TEST_SERVER.user,
      DB_PASSWORD: MYSQL_TEST_SERVER.password,
      DB_NAME: name,
    },
    query: async <T>(sql: string, params: unknown[] = []) => {
      const conn = await createConnection({ ...MYSQL_TEST_SERVER, database: name });
      try {
        const [rows] = await conn.query(sql, params);
        return (Array.isArray(rows) ? rows : []) as T[];
      } finally {
        await conn.end();
      }
    },
    drop: async () => {
      const conn = await createConnection(MYSQL_TEST_SERVER);
      await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await conn.end();
    },
  };
}
