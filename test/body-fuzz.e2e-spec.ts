/**
 * Property-based: random JSON values and mutations of valid bodies, thrown at every write route.
 * Whatever arrives, the answer is never a 5xx, and a 4xx changes nothing in the database.
 */
import fc from 'fast-check';
import { bearer, startTestApp, TestApp } from './support/test-app';

/** A write route and a body it accepts. */
interface WriteRoute {
  method: 'post' | 'patch';
  path: string;
  valid: Record<string, unknown>;
  /** Who calls it (a role with the right to). */
  token: () => string;
}

/** Every row the write routes could change; failed-login audit rows are the one thing a 4xx may add. */
const STATE_QUERIES = [
  'SELECT * FROM products ORDER BY id',
  'SELECT * FROM warehouses ORDER BY id',
  'SELECT * FROM users ORDER BY id',
  'SELECT * FROM stock_levels ORDER BY warehouse_id, product_id',
  'SELECT COUNT(*) AS n, MAX(id) AS last FROM stock_movements',
  "SELECT COUNT(*) AS n FROM audit_logs WHERE action <> 'auth.login_failed'",
  'SELECT COUNT(*) AS n FROM idempotency_keys',
  'SELECT * FROM reservations ORDER BY id',
  'SELECT id, url, events, description, enabled, sealed_secret, created_at, updated_at FROM webhooks ORDER BY id', // not its event cursor, which fan-out moves
  'SELECT COUNT(*) AS n, MAX(id) AS last FROM events',
];

const json = (value: unknown) => JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? String(v) : v));

/** One change to a valid body: a field dropped, replaced by any JSON value, nested, or one added. */
function mutated(valid: Record<string, unknown>): fc.Arbitrary<unknown> {
  const anyValue = fc.jsonValue({ maxDepth: 4 });
  // a route that takes no fields has no field to change: it gets the other mutations
  const key = fc.constantFrom(...Object.keys(valid), 'unknownField');
  return fc.oneof(
    fc.tuple(key, anyValue).map(([k, v]) => ({ ...valid, [k]: v })),
    key.map((k) => Object.fromEntries(Object.entries(valid).filter(([name]) => name !== k))),
    fc.tuple(key, fc.integer({ min: 1, max: 40 })).map(([k, depth]) => ({
      ...valid,
      [k]: Array.from({ length: depth }).reduce<unknown>((inner) => [inner], valid[k]),
    })),
    fc.tuple(fc.string({ maxLength: 12 }), anyValue).map(([k, v]) => ({ ...valid, [k]: v })),
    fc.constant([valid]),
    fc.constant({ ...valid, lines: [[]] }),
    fc.constant({ ...valid, lines: [null] }),
    fc.constant({ ...valid, lines: ['x'] }),
  );
}

describe('bodies of any shape', () => {
  let t: TestApp;
  let routes: WriteRoute[];

  const snapshot = async () => {
    const parts = [];
    for (const sql of STATE_QUERIES) parts.push(await t.dataSource.query(sql));
    return json(parts);
  };

  beforeAll(async () => {
    t = await startTestApp();
    const manager = () => t.tokens.manager;
    const admin = () => t.tokens.admin;
    const operator = () => t.tokens.operator;
    const product = await t.http
      .post('/api/products')
      .set(bearer(t.tokens.manager))
      .send({ sku: 'FUZZ-1', name: 'Fuzzed' })
      .expect(201);
    await t.http.post('/api/warehouses').set(bearer(t.tokens.manager)).send({ code: 'EAST', name: 'East' }).expect(201);
    await t.http
      .post('/api/stock/in')
      .set(bearer(t.tokens.operator))
      .send({ sku: 'FUZZ-1', quantity: 1000 })
      .expect(201);
    const user = await t.createUser('fuzz-target', 'viewer');
    const held = await t.http
      .post('/api/stock/reservations')
      .set(bearer(t.tokens.operator))
      .send({ lines: [{ sku: 'FUZZ-1', quantity: 1 }] })
      .expect(201);
    const webhook = await t.http
      .post('/api/webhooks')
      .set(bearer(t.tokens.admin))
      .send({ url: 'http://127.0.0.1:9/fuzz', events: ['stock.low'] })
      .expect(201);
    routes = [
      {
        method: 'post',
        path: '/api/webhooks',
        valid: { url: 'http://127.0.0.1:9/fuzz-new', events: ['stock.low', 'stock.restocked'], description: 'd' },
        token: admin,
      },
      {
        method: 'patch',
        path: `/api/webhooks/${webhook.body.webhook.id}`,
        valid: { enabled: false, events: ['*'], description: null },
        token: admin,
      },
      {
        method: 'post',
        path: '/api/auth/login',
        valid: { username: 'nobody-fuzz', password: 'x'.repeat(12) },
        token: admin,
      },
      {
        method: 'post',
        path: '/api/users',
        valid: { username: 'fuzz-new', password: 'y'.repeat(12), role: 'viewer' },
        token: admin,
      },
      { method: 'patch', path: `/api/users/${user.id}`, valid: { role: 'operator', disabled: false }, token: admin },
      { method: 'post', path: '/api/warehouses', valid: { code: 'WEST', name: 'West' }, token: manager },
      {
        method: 'post',
        path: '/api/products',
        valid: { sku: 'FUZZ-2', name: 'Two', unit: 'kg', reorderPoint: 3 },
        token: manager,
      },
      {
        method: 'patch',
        path: `/api/products/${product.body.id}`,
        valid: { name: 'Renamed', reorderPoint: 2 },
        token: manager,
      },
      {
        method: 'post',
        path: '/api/stock/in',
        valid: { sku: 'FUZZ-1', quantity: 1, warehouse: 'MAIN', note: 'n' },
        token: operator,
      },
      {
        method: 'post',
        path: '/api/stock/out',
        valid: { productId: product.body.id, quantity: 1, reference: 'r' },
        token: operator,
      },
      {
        method: 'post',
        path: '/api/stock/adjust',
        valid: { sku: 'FUZZ-1', delta: -1, reason: 'DAMAGE' },
        token: manager,
      },
      {
        method: 'post',
        path: '/api/stock/transfer',
        valid: { sku: 'FUZZ-1', from: 'MAIN', to: 'EAST', quantity: 1 },
        token: operator,
      },
      {
        method: 'post',
        path: '/api/stock/reservations',
        valid: { lines: [{ sku: 'FUZZ-1', quantity: 1 }], ttlSeconds: 60, reference: 'r' },
        token: operator,
      },
      {
        method: 'post',
        path: `/api/stock/reservations/${held.body.reservation.id}/cancel`,
        valid: {},
        token: operator,
      },
      {
        method: 'post',
        path: `/api/stock/reservations/${held.body.reservation.id}/confirm`,
        valid: {},
        token: operator,
      },
      {
        method: 'post',
        path: '/api/stock/batch',
        valid: {
          type: 'OUT',
          lines: [
            { sku: 'FUZZ-1', quantity: 1 },
            { productId: product.body.id, quantity: 1 },
          ],
        },
        token: operator,
      },
    ];
  });
  afterAll(() => t.close());

  /** Sends `body` as JSON text; the answer must not be a 5xx, and a 4xx must leave the database as it was. */
  const holds = async (route: WriteRoute, text: string) => {
    const before = await snapshot();
    const res = await t.http[route.method](route.path)
      .set(bearer(route.token()))
      .set('Content-Type', 'application/json')
      .send(text);
    if (res.status >= 500) throw new Error(`${route.path} answered ${res.status} to ${text.slice(0, 300)}`);
    if (res.status >= 400) {
      expect(res.body).toEqual(expect.objectContaining({ statusCode: res.status, code: expect.any(String) }));
      const after = await snapshot();
      if (after !== before) throw new Error(`${route.path} answered ${res.status} but changed the database: ${text}`);
    }
    return res.status;
  };

  it('answers a body nested 5,000 deep, on every write route, with 400 VALIDATION_FAILED', async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const deepInField = `{"name":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    for (const route of routes) {
      for (const text of [deep, deepInField]) {
        expect(await holds(route, text)).toBe(400);
      }
    }
  });

  it('answers wrong shapes inside batch lines with 400 naming the line', async () => {
    const batch = routes.find((r) => r.path === '/api/stock/batch')!;
    for (const lines of [[[]], [null], ['x'], [1], [[{ sku: 'FUZZ-1', quantity: 1 }]]]) {
      const res = await t.http.post(batch.path).set(bearer(batch.token())).send({ type: 'IN', lines });
      expect({ lines, status: res.status, code: res.body.code }).toEqual({
        lines,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
      expect(Object.keys(res.body.details.fields)).toContain('lines');
    }
  });

  it('never answers 5xx nor changes anything on a 4xx, for random JSON values', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: routes.length - 1 }),
        fc.jsonValue({ maxDepth: 6 }),
        async (i, value) => {
          await holds(routes[i], json(value));
        },
      ),
      { numRuns: 120 },
    );
  });

  it('never answers 5xx nor changes anything on a 4xx, for mutations of valid bodies', async () => {
    // login and user creation hash passwords (hundreds of ms each): fewer runs there
    const cheap = routes.filter((r) => !['/api/auth/login', '/api/users'].includes(r.path));
    const dear = routes.filter((r) => ['/api/auth/login', '/api/users'].includes(r.path));
    for (const [set, numRuns] of [
      [cheap, 25],
      [dear, 8],
    ] as const) {
      for (const route of set) {
        await fc.assert(
          fc.asyncProperty(mutated(route.valid), async (body) => {
            await holds(route, json(body));
          }),
          { numRuns },
        );
      }
    }
  });
});
