/**
 * The MySQL connection pool's knobs: an exhausted pool answers 503 after DB_POOL_ACQUIRE_TIMEOUT_MS
 * instead of hanging, connections past DB_POOL_MAX_LIFETIME_MS are replaced, idle ones past
 * DB_POOL_IDLE_TIMEOUT_MS close. SQLite has no pool: one shared connection.
 */
import { createConnection, Connection } from 'mysql2/promise';
import { MYSQL_TEST_SERVER, testDbType } from './support/test-database';
import { bearer, startTestApp, TestApp } from './support/test-app';
import { waitFor } from './support/wait';

const describeMysql = testDbType() === 'mysql' ? describe : describe.skip;
/** Timers that query on their own: the event sequencer, the webhook worker and the reservation sweep. */
const BACKGROUND_POLLERS = 3;

/** The service's connections to its database (not this test's own). */
async function serviceConnections(t: TestApp, side: Connection): Promise<number[]> {
  const [rows] = await side.query(
    'SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()',
    [t.database.env.DB_NAME],
  );
  return (rows as { id: number }[]).map((r) => Number(r.id));
}

describeMysql('database pool limits', () => {
  let side: Connection;
  beforeAll(async () => {
    side = await createConnection(MYSQL_TEST_SERVER);
  });
  afterAll(() => side.end());

  describe('an exhausted pool (DB_POOL_SIZE=1, DB_POOL_ACQUIRE_TIMEOUT_MS=300)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ DB_POOL_SIZE: '1', DB_POOL_ACQUIRE_TIMEOUT_MS: '300' });
      await side.query(`USE \`${t.database.env.DB_NAME}\``);
    });
    afterAll(() => t.close());

    it('answers 503 SERVICE_UNAVAILABLE with Retry-After while every connection is busy, then recovers', async () => {
      const product = await t.http
        .post('/api/products')
        .set(bearer(t.tokens.manager))
        .send({ sku: 'POOL-1', name: 'Pooled' })
        .expect(201);
      await t.http
        .post('/api/stock/in')
        .set(bearer(t.tokens.operator))
        .send({ sku: 'POOL-1', quantity: 5 })
        .expect(201);
      await t.http.get('/api/products').set(bearer(t.tokens.viewer)).expect(200); // the token's user is cached now

      // hold the level row: a stock-out takes the pool's only connection and waits on the lock
      await side.query('START TRANSACTION');
      await side.query('SELECT on_hand FROM stock_levels WHERE product_id = ? FOR UPDATE', [product.body.id]);
      const out = t.http
        .post('/api/stock/out')
        .set(bearer(t.tokens.operator))
        .send({ sku: 'POOL-1', quantity: 1 })
        .then((r) => r);
      await waitFor(
        'the stock-out waiting on the row lock',
        async () => {
          const [rows] = await side.query(
            "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE '%FOR UPDATE%' AND ID <> CONNECTION_ID()",
            [t.database.env.DB_NAME],
          );
          return Number((rows as { n: number }[])[0].n) > 0;
        },
        3000,
      );

      const busy = await t.http.get('/api/products').set(bearer(t.tokens.viewer));
      expect({ status: busy.status, code: busy.body.code }).toEqual({ status: 503, code: 'SERVICE_UNAVAILABLE' });
      expect(Number(busy.headers['retry-after'])).toBeGreaterThan(0);

      await side.query('COMMIT');
      expect((await out).status).toBe(201);
      await t.http.get('/api/products').set(bearer(t.tokens.viewer)).expect(200);
      const level = await t.http.get('/api/stock').query({ sku: 'POOL-1' }).set(bearer(t.tokens.viewer)).expect(200);
      expect(level.body.items[0].onHand).toBe(4);
    });
  });

  describe('connection lifetime (DB_POOL_MAX_LIFETIME_MS=1000)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ DB_POOL_MAX_LIFETIME_MS: '1000' });
    });
    afterAll(() => t.close());

    it('replaces connections older than the lifetime while they are in use', async () => {
      await t.http.get('/api/products').set(bearer(t.tokens.viewer)).expect(200);
      const first = await serviceConnections(t, side);
      expect(first.length).toBeGreaterThan(0);
      await waitFor(
        'every first connection replaced',
        async () => {
          await t.http.get('/api/products').set(bearer(t.tokens.viewer)).expect(200);
          const now = await serviceConnections(t, side);
          return now.length > 0 && now.every((id) => !first.includes(id));
        },
        5000,
      );
    });
  });

  describe('idle connections (DB_POOL_IDLE_TIMEOUT_MS=1000)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ DB_POOL_SIZE: '8', DB_POOL_IDLE_TIMEOUT_MS: '1000' });
    });
    afterAll(() => t.close());

    it('closes connections that stay idle past the timeout', async () => {
      await t.http.get('/api/products').set(bearer(t.tokens.viewer)).expect(200); // the token's user is cached now
      // a table lock holds six reads, each on its own connection, until they are all open
      await side.query(`USE \`${t.database.env.DB_NAME}\``);
      await side.query('LOCK TABLES products WRITE');
      const reads = Array.from({ length: 6 }, () =>
        t.http
          .get('/api/products')
          .set(bearer(t.tokens.viewer))
          .then((r) => r.status),
      );
      await waitFor(
        'six reads waiting on the table lock',
        async () => {
          const [rows] = await side.query(
            "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND STATE LIKE '%metadata lock%'",
            [t.database.env.DB_NAME],
          );
          return Number((rows as { n: number }[])[0].n) >= 6;
        },
        5000,
      );
      await side.query('UNLOCK TABLES');
      expect(await Promise.all(reads)).toEqual([200, 200, 200, 200, 200, 200]);
      const burst = await serviceConnections(t, side);
      // more than the background pollers (event sequencer, webhook worker, reservation sweep) can keep busy
      expect(burst.length).toBeGreaterThan(BACKGROUND_POLLERS);
      // each poller takes a connection every 250–500 ms; on a loaded machine they overlap, so up to three
      // stay in use. Every other connection of the burst is idle and must close.
      await waitFor(
        'idle connections closed',
        async () => (await serviceConnections(t, side)).length <= BACKGROUND_POLLERS,
        10_000,
      );
    });
  });
});
