import { DataSource } from 'typeorm';
import { PoolLimits } from '../config/database.config';

type Callback = (error: Error | null, connection?: PooledConnection) => void;

interface PooledConnection {
  release(): void;
  destroy(): void;
}

interface Mysql2Pool {
  getConnection(callback: Callback): void;
  on(event: 'connection', listener: (connection: PooledConnection) => void): void;
}

/** The error an exhausted pool answers with: the service turns it into 503 SERVICE_UNAVAILABLE. */
export class PoolAcquireTimeoutError extends Error {
  readonly code = 'POOL_ACQUIRE_TIMEOUT';
}

/**
 * What mysql2's pool lacks: a deadline for getting a connection (a request never hangs on an
 * exhausted pool) and a maximum connection lifetime (a connection past it is closed instead of
 * handed out, so load balancers and failovers in front of the database see connections move).
 * Idle connections are mysql2's own business (`idleTimeout`, see data-source.options.ts).
 */
export function applyPoolLimits(dataSource: DataSource, limits: PoolLimits): void {
  const pool = (dataSource.driver as unknown as { pool: Mysql2Pool }).pool;
  const bornAt = new WeakMap<PooledConnection, number>();
  pool.on('connection', (connection) => bornAt.set(connection, Date.now()));
  const tooOld = (connection: PooledConnection) => {
    // a connection opened before these limits were applied (the migrations') counts from its first use here
    if (!bornAt.has(connection)) bornAt.set(connection, Date.now());
    return limits.maxLifetimeMs > 0 && Date.now() - bornAt.get(connection)! > limits.maxLifetimeMs;
  };

  const getConnection = pool.getConnection.bind(pool);
  pool.getConnection = (callback: Callback) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      callback(new PoolAcquireTimeoutError(`No database connection free within ${limits.acquireTimeoutMs} ms`));
    }, limits.acquireTimeoutMs);
    const take: Callback = (error, connection) => {
      if (settled) return connection?.release(); // the caller gave up: back to the pool
      if (!error && connection && tooOld(connection)) {
        connection.destroy();
        return getConnection(take);
      }
      settled = true;
      clearTimeout(timer);
      callback(error, connection);
    };
    getConnection(take);
  };
}
