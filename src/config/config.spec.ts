import { readAuthConfig, parseDuration } from './auth.config';
import { readDatabaseConfig } from './database.config';

describe('configuration', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it.each([
    ['900', 900],
    ['15m', 900],
    ['1h', 3600],
    ['2d', 172800],
  ])('parses the duration %p', (value, seconds) => {
    expect(parseDuration(value)).toBe(seconds);
  });

  it('defaults to SQLite under ./data', () => {
    expect(readDatabaseConfig({})).toEqual({ type: 'sqlite', path: 'data/inventory.sqlite' });
  });

  it.each([
    [{ DB_TYPE: 'postgres' }, 'DB_TYPE'],
    [{ DB_TYPE: 'mysql', DB_USER: 'u', DB_NAME: 'n' }, 'DB_HOST'],
    [{ DB_TYPE: 'mysql', DB_HOST: 'h', DB_USER: 'u', DB_NAME: 'n', DB_PORT: 'abc' }, 'DB_PORT'],
  ])('names the bad variable in one line: %p', (env, variable) => {
    expect(() => readDatabaseConfig(env)).toThrow(new RegExp(`^Invalid configuration: ${variable}: [^\\n]+$`));
  });

  it('refuses production without a strong JWT_SECRET', () => {
    process.env = { NODE_ENV: 'production', JWT_SECRET: 'short' };
    expect(() => readAuthConfig()).toThrow(/JWT_SECRET/);
    process.env = { NODE_ENV: 'production' };
    expect(() => readAuthConfig()).toThrow(/JWT_SECRET/);
  });

  it('accepts production with a 32-byte secret', () => {
    process.env = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) };
    expect(readAuthConfig().jwtSecret).toBe('x'.repeat(32));
  });

  it.each([
    ['JWT_TTL', '10 minutes'],
    ['ADMIN_PASSWORD', 'short'],
    ['ADMIN_USERNAME', 'Bad User'],
    ['RATE_LIMIT_PER_MINUTE', '-1'],
    ['REDIS_URL', 'localhost:6379'],
  ])('rejects a bad %s', (variable, value) => {
    process.env = { JWT_SECRET: 'x'.repeat(32), [variable]: value };
    expect(() => readAuthConfig()).toThrow(new RegExp(`^Invalid configuration: ${variable}:`));
  });
});
