/**
 * What `npm run bench`, `npm run bench:reads` and `npm run profile` share: the database server they run
 * on (the test suites' own), the service's environment, the seed, and the stock-out load (POST
 * /api/stock/out through the service over HTTP at 64 connections).
 */
import autocannon from 'autocannon';
import { createConnection, Pool, RowDataPacket } from 'mysql2/promise';
import { MYSQL_TEST_SERVER } from '../test/support/test-database';

export const CONNECTIONS = 64;
export const DURATION_S = Number(process.env.BENCH_DURATION ?? 12);
export const SPREAD_SKUS = 10_000;
export const POOL_SIZE = 20; // the service's default DB_POOL_SIZE
const START_STOCK = 1_000_000_000_000;
export const server = MYSQL_TEST_SERVER;

export interface Figures {
  ops: number;
  p50: number;
  p99: number;
  errors: number;
}

export const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

export const fmt = (f: Figures) =>
  `${f.ops.toFixed(0).padStart(7)} ops/s  p50 ${f.p50.toFixed(1).padStart(6)} ms  p99 ${f.p99.toFixed(1).padStart(6)} ms  errors ${f.errors}`;

export async function service(
  url: string,
  token: string,
  pickProduct: () => number,
  duration = DURATION_S,
): Promise<Figures> {
  const result = await autocannon({
    url: `${url}/api/stock/out`,
    connections: CONNECTIONS,
    duration,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    requests: [
      {
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ productId: pickProduct(), quantity: 1 }) }),
      },
    ],
  });
  return figuresOf(result);
}

/** An autocannon run's figures; `requestsPerOp` when one operation is several requests (a flow). */
export function figuresOf(result: autocannon.Result, requestsPerOp = 1): Figures {
  return {
    ops: result['2xx'] / requestsPerOp / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors,
  };
}

export async function seed(pool: Pool): Promise<{ warehouseId: number; actorId: number }> {
  const [[{ id: warehouseId }]] = await pool.query<RowDataPacket[]>("SELECT id FROM warehouses WHERE code = 'MAIN'");
  const [[{ id: actorId }]] = await pool.query<RowDataPacket[]>("SELECT id FROM users WHERE username = 'admin'");
  const now = new Date();
  for (let first = 1; first <= SPREAD_SKUS; first += 1000) {
    const ids = Array.from({ length: 1000 }, (_, i) => first + i);
    await pool.query(
      // not low: each gets START_STOCK below (a stored low flag would make each first write flip it)
      'INSERT INTO products (sku, sku_key, name, unit, reorder_point, version, created_at, updated_at, low) VALUES ?',
      [ids.map((i) => [`BENCH-${i}`, `bench-${i}`, `Bench ${i}`, 'pcs', 0, 1, now, now, 0])],
    );
  }
  // every level starts from an IN movement, so reconcile holds after the run
  await pool.query(
    'INSERT INTO stock_levels (warehouse_id, product_id, on_hand, updated_at) SELECT ?, id, ?, ? FROM products',
    [warehouseId, START_STOCK, now],
  );
  await pool.query(
    "INSERT INTO stock_movements (type, product_id, warehouse_id, quantity, balance_after, actor_id, actor_username, created_at) SELECT 'IN', id, ?, ?, ?, ?, 'admin', ? FROM products",
    [warehouseId, START_STOCK, START_STOCK, actorId, now],
  );
  return { warehouseId, actorId };
}

/** A new, empty database of that name on the bench's server (dropped first if a run left it). */
export async function freshDatabase(name: string): Promise<void> {
  const admin = await createConnection(server);
  try {
    await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  } finally {
    await admin.end();
  }
}

export async function dropDatabase(name: string): Promise<void> {
  const admin = await createConnection(server);
  await admin.query(`DROP DATABASE IF EXISTS \`${name}\``).finally(() => admin.end());
}

/**
 * The service's environment in every benchmark: production mode on MySQL/MariaDB `database`, the
 * default pool, the admin with `password`, no rate limit (one user sends everything; the default
 * limit would cap it at 100/s).
 */
export function benchServiceEnv(database: string, password: string): Record<string, string> {
  return {
    DB_TYPE: 'mysql',
    DB_HOST: server.host,
    DB_PORT: String(server.port),
    DB_USER: server.user,
    DB_PASSWORD: server.password,
    DB_NAME: database,
    DB_POOL_SIZE: String(POOL_SIZE),
    ADMIN_USERNAME: 'admin',
    ADMIN_PASSWORD: password,
    JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0123',
    RATE_LIMIT_PER_MINUTE: '0',
    NODE_ENV: 'production',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', // info: a start is recognised by its 'listening' line
  };
}
