import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTrustProxy, readAppConfig } from './app.config';
import { readAuthConfig, parseDuration } from './auth.config';
import { readDatabaseConfig } from './database.config';
import { readEventsConfig } from './events.config';
import { readStockConfig } from './stock.config';

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
    [
      { DB_TYPE: 'mysql', DB_HOST: 'h', DB_USER: 'u', DB_NAME: 'n', DB_POOL_ACQUIRE_TIMEOUT_MS: '0' },
      'DB_POOL_ACQUIRE_TIMEOUT_MS',
    ],
    [
      { DB_TYPE: 'mysql', DB_HOST: 'h', DB_USER: 'u', DB_NAME: 'n', DB_POOL_IDLE_TIMEOUT_MS: '10' },
      'DB_POOL_IDLE_TIMEOUT_MS',
    ],
    [
      { DB_TYPE: 'mysql', DB_HOST: 'h', DB_USER: 'u', DB_NAME: 'n', DB_POOL_MAX_LIFETIME_MS: '-5' },
      'DB_POOL_MAX_LIFETIME_MS',
    ],
  ])('names the bad variable in one line: %p', (env, variable) => {
    expect(() => readDatabaseConfig(env)).toThrow(new RegExp(`^Invalid configuration: ${variable}: [^\\n]+$`));
  });

  it('refuses production without a strong JWT_SECRET', () => {
    process.env = { NODE_ENV: 'production', JWT_SECRET: 'short' };
    expect(() => readAuthConfig()).toThrow(/JWT_SECRET/);
    process.env = { NODE_ENV: 'production' };
    expect(() => readAuthConfig()).toThrow(/JWT_SECRET/);
  });

  it('refuses a JWT_SECRET under 32 bytes in every mode', () => {
    for (const NODE_ENV of ['development', 'test', undefined]) {
      process.env = { NODE_ENV, JWT_SECRET: 'x'.repeat(31) };
      expect(() => readAuthConfig()).toThrow(/^Invalid configuration: JWT_SECRET: must be at least 32 bytes$/);
    }
  });

  it('caps JWT_TTL at 24 hours', () => {
    process.env = { JWT_SECRET: 'x'.repeat(32), JWT_TTL: '24h' };
    expect(readAuthConfig().jwtTtlSeconds).toBe(86400);
    process.env = { JWT_SECRET: 'x'.repeat(32), JWT_TTL: '86401' };
    expect(() => readAuthConfig()).toThrow(/^Invalid configuration: JWT_TTL: /);
  });

  describe('secrets from files (<NAME>_FILE)', () => {
    const folder = mkdtempSync(join(tmpdir(), 'config-spec-'));
    const file = (name: string, content: string) => {
      const path = join(folder, name);
      writeFileSync(path, content);
      return path;
    };

    it('reads JWT_SECRET, ADMIN_PASSWORD and DB_PASSWORD from files, dropping one trailing newline', () => {
      process.env = {
        JWT_SECRET_FILE: file('jwt', `${'s'.repeat(40)}\n`),
        ADMIN_PASSWORD_FILE: file('admin', 'an admin password \r\n'),
      };
      expect(readAuthConfig()).toMatchObject({ jwtSecret: 's'.repeat(40), adminPassword: 'an admin password ' });
      const db = { DB_TYPE: 'mysql', DB_HOST: 'h', DB_USER: 'u', DB_NAME: 'n' };
      expect(readDatabaseConfig({ ...db, DB_PASSWORD_FILE: file('db', 'pa:ss\n') })).toMatchObject({
        password: 'pa:ss',
      });
    });

    it('holds a secret read from a file to the same rules', () => {
      process.env = { JWT_SECRET_FILE: file('weak', 'short\n') };
      expect(() => readAuthConfig()).toThrow(/^Invalid configuration: JWT_SECRET: /);
    });

    it('refuses both a variable and its file, and a file it cannot read, naming the variable', () => {
      process.env = { JWT_SECRET: 'x'.repeat(32), JWT_SECRET_FILE: file('both', 'y'.repeat(32)) };
      expect(() => readAuthConfig()).toThrow(/^Invalid configuration: JWT_SECRET: set either/);
      process.env = { JWT_SECRET_FILE: join(folder, 'missing') };
      expect(() => readAuthConfig()).toThrow(/^Invalid configuration: JWT_SECRET_FILE: cannot read .*ENOENT/);
    });
  });

  it('defaults the pool limits and MAX_IN_FLIGHT, and refuses a bad MAX_IN_FLIGHT', () => {
    expect(readDatabaseConfig({ DB_TYPE: 'mysql', DB_HOST: 'h', DB_USER: 'u', DB_NAME: 'n' })).toMatchObject({
      pool: { acquireTimeoutMs: 5000, idleTimeoutMs: 60_000, maxLifetimeMs: 1_800_000 },
    });
    process.env = {};
    expect(readAppConfig()).toMatchObject({ maxInFlight: 512, trustProxy: false });
    process.env = { MAX_IN_FLIGHT: '-1' };
    expect(() => readAppConfig()).toThrow(/^Invalid configuration: MAX_IN_FLIGHT: /);
  });

  it('schedules reconcile hourly unless RECONCILE_INTERVAL says otherwise (0: off), and refuses a bad one', () => {
    expect(readStockConfig({})).toEqual({ reconcileIntervalSeconds: 3600 });
    expect(readStockConfig({ RECONCILE_INTERVAL: '0' })).toEqual({ reconcileIntervalSeconds: 0 });
    expect(readStockConfig({ RECONCILE_INTERVAL: '900' })).toEqual({ reconcileIntervalSeconds: 900 });
    for (const value of ['-1', '1.5', '1h', 'soon', '604801']) {
      expect(() => readStockConfig({ RECONCILE_INTERVAL: value })).toThrow(
        /^Invalid configuration: RECONCILE_INTERVAL: must be whole seconds from 0 \(off\) to 604800$/,
      );
    }
  });

  describe('TRUST_PROXY', () => {
    it.each([
      [undefined, false],
      ['0', false],
      ['1', 1],
      ['2', 2],
      ['10.0.0.1', ['10.0.0.1']],
      ['10.0.0.0/8, 192.168.1.1,fd00::/8', ['10.0.0.0/8', '192.168.1.1', 'fd00::/8']],
    ])('%p means %p', (value, trust) => {
      expect(parseTrustProxy(value)).toEqual(trust);
    });

    it.each(['true', 'proxy.local', '10.0.0.0/33', '10.0.0.1,', '1.2.3'])('refuses %p naming the variable', (value) => {
      expect(() => parseTrustProxy(value)).toThrow(/^Invalid configuration: TRUST_PROXY: /);
    });
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
    ['LOGIN_CONCURRENCY', '0'],
    ['PASSWORD_HASH_MEMORY_KIB', '19455'], // below OWASP's argon2id floor
    ['PASSWORD_HASH_ITERATIONS', '1'],
  ])('rejects a bad %s', (variable, value) => {
    process.env = { JWT_SECRET: 'x'.repeat(32), [variable]: value };
    expect(() => readAuthConfig()).toThrow(new RegExp(`^Invalid configuration: ${variable}:`));
  });

  it("keeps events 7 days unless EVENTS_RETENTION_DAYS says longer; shorter than the contract's 7 is refused", () => {
    process.env = {};
    expect(readEventsConfig().retentionDays).toBe(7);
    process.env = { EVENTS_RETENTION_DAYS: '30' };
    expect(readEventsConfig().retentionDays).toBe(30);
    for (const days of ['6', '7.5', 'week']) {
      process.env = { EVENTS_RETENTION_DAYS: days };
      expect(() => readEventsConfig()).toThrow(/^Invalid configuration: EVENTS_RETENTION_DAYS: /);
    }
  });

  it('sends events from every instance unless EVENTS_DISPATCH=false; anything but true or false is refused', () => {
    process.env = {};
    expect(readEventsConfig().dispatch).toBe(true);
    process.env = { EVENTS_DISPATCH: 'false' };
    expect(readEventsConfig().dispatch).toBe(false);
    process.env = { EVENTS_DISPATCH: 'true' };
    expect(readEventsConfig().dispatch).toBe(true);
    process.env = { EVENTS_DISPATCH: 'no' };
    expect(() => readEventsConfig()).toThrow(/^Invalid configuration: EVENTS_DISPATCH: /);
  });

  it.each(['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'])(
    'refuses an %s that is no http(s) URL, naming it (either switches tracing on)',
    (name) => {
      process.env = { [name]: 'http://otel-collector:4318/v1/traces' };
      expect(() => readAppConfig()).not.toThrow();
      for (const value of ['not a url', 'otel-collector:4318', 'ftp://collector']) {
        process.env = { [name]: value };
        expect(() => readAppConfig()).toThrow(
          new RegExp(`^Invalid configuration: ${name}: must be an http\\(s\\) URL$`),
        );
      }
    },
  );
});
