import { TestDatabase } from './test-database';

/** The bootstrap admin every suite's service starts with. */
export const ADMIN = { username: 'admin', password: 'admin-password-123' };
/** The password of the users the suites create. */
export const PASSWORD = 'correct-horse-battery';

/**
 * The environment of the service under test, in process or as a process of its own: one database,
 * the admin above, no request limit (suites send many), no Redis. A pool of 8 connections: two suites
 * run at once and some start three service processes, and MariaDB's default max_connections (151) must
 * hold them all (ER_CON_COUNT_ERROR would answer 503).
 */
export function serviceEnv(database: TestDatabase, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-0123456789',
    ADMIN_USERNAME: ADMIN.username,
    ADMIN_PASSWORD: ADMIN.password,
    RATE_LIMIT_PER_MINUTE: '0',
    REDIS_URL: '',
    DB_POOL_SIZE: '8',
    // OWASP's argon2id floor (19 MiB, 2 passes) instead of the default 64 MiB and 3: the suites hash
    // and check hundreds of passwords on two cores
    PASSWORD_HASH_MEMORY_KIB: '19456',
    PASSWORD_HASH_ITERATIONS: '2',
    ...database.env,
    ...overrides,
  };
}
