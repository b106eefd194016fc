import { ResponseValidator } from './support/ajv-responses';
import { ADMIN } from './support/service-env';
import { bearer, startTestApp, TestApp } from './support/test-app';
import { waitFor } from './support/wait';

/** JSON success answers this suite cannot produce cheaply: a retry needs a delivery that has FAILED. */
const NOT_DRIVEN = ['post /api/webhooks/{id}/deliveries/{deliveryId}/retry 202'];

describe('answers match the response schemas the OpenAPI document declares', () => {
  let t: TestApp;
  let validator: ResponseValidator;
  let document: ConstructorParameters<typeof ResponseValidator>[0];

  beforeAll(async () => {
    t = await startTestApp();
    document = (await t.http.get('/docs-json').expect(200)).body;
    validator = new ResponseValidator(document);
  });
  afterAll(() => t?.close());

  /** Sends a request as `token`'s user, expects `status`, and validates the answer against `route`'s schema. */
  async function call(
    method: 'get' | 'post' | 'patch',
    route: string,
    status: number,
    options: { path?: string; token?: string; body?: object } = {},
  ) {
    const req = t.http[method](options.path ?? route).set(bearer(options.token ?? t.tokens.admin));
    const res = await (options.body ? req.send(options.body) : req);
    expect([`${method} ${options.path ?? route}`, res.status]).toEqual([`${method} ${options.path ?? route}`, status]);
    validator.check(method, route, res.status, res.body);
    return res.body;
  }

  it('for a representative answer of every JSON route', async () => {
    await call('post', '/api/auth/login', 200, { body: { username: ADMIN.username, password: ADMIN.password } });
    await call('post', '/api/auth/login', 401, { body: { username: ADMIN.username, password: 'not-the-password' } });
    await call('get', '/api/auth/me', 200);

    const user = await call('post', '/api/users', 201, {
      body: { username: 'schema-user', password: 'a-long-enough-password', role: 'viewer' },
    });
    await call('get', '/api/users', 200);
    await call('get', '/api/users/{id}', 200, { path: `/api/users/${user.id}` });
    await call('patch', '/api/users/{id}', 200, { path: `/api/users/${user.id}`, body: { disabled: true } });
    await call('get', '/api/users/{id}', 404, { path: '/api/users/999999' });

    await call('post', '/api/warehouses', 201, { body: { code: 'EAST', name: 'East' } });
    await call('get', '/api/warehouses', 200);

    const product = await call('post', '/api/products', 201, { body: { sku: 'SCHEMA-1', name: 'Schema widget' } });
    await call('post', '/api/products', 409, { body: { sku: 'schema-1', name: 'Again' } });
    await call('post', '/api/products', 400, { body: { sku: '', name: 'No sku' } });
    await call('get', '/api/products', 200, { path: '/api/products?limit=1' });
    const path = `/api/products/${product.id}`;
    await call('patch', '/api/products/{id}', 200, { path, body: { description: 'documented', reorderPoint: 3 } });

    // a webhook for every event, at a port nothing listens on: its deliveries stay PENDING, so the
    // deliveries page below has rows to check
    const webhook = await call('post', '/api/webhooks', 201, {
      body: { url: 'http://127.0.0.1:9/hook', events: ['*'], description: 'schema check' },
    });
    const hook = `/api/webhooks/${webhook.webhook.id}`;

    const line = { productId: product.id };
    await call('post', '/api/stock/in', 201, { body: { ...line, quantity: 10, reference: 'PO-1' } });
    await call('post', '/api/stock/out', 201, { body: { sku: 'SCHEMA-1', quantity: 1 } });
    await call('post', '/api/stock/out', 409, { body: { sku: 'SCHEMA-1', quantity: 1000 } });
    await call('post', '/api/stock/adjust', 201, { body: { ...line, delta: -1, reason: 'DAMAGE', note: 'dropped' } });
    await call('post', '/api/stock/adjust', 201, { body: { ...line, countedQuantity: 8, reason: 'COUNT' } });
    await call('post', '/api/stock/transfer', 201, { body: { ...line, from: 'MAIN', to: 'EAST', quantity: 2 } });
    await call('post', '/api/stock/batch', 201, {
      body: {
        type: 'IN',
        lines: [
          { ...line, quantity: 1 },
          { sku: 'SCHEMA-1', quantity: 2, warehouse: 'EAST' },
        ],
      },
    });
    await call('get', '/api/products/{id}', 200, { path });
    await call('get', '/api/stock', 200, { path: `/api/stock?productId=${product.id}` });
    await call('get', '/api/stock/movements', 200, { path: '/api/stock/movements?sku=SCHEMA-1' });
    await call('get', '/api/stock/reconcile', 200);
    // a mismatch, so the reconcile answer's items are checked too (put back right after)
    await t.dataSource.query('UPDATE stock_levels SET on_hand = on_hand + 1 WHERE product_id = ?', [product.id]);
    const reconciled = await call('get', '/api/stock/reconcile', 200);
    await t.dataSource.query('UPDATE stock_levels SET on_hand = on_hand - 1 WHERE product_id = ?', [product.id]);
    expect(reconciled.mismatches.length).toBeGreaterThan(0);

    const reserve = (quantity: number) => ({ lines: [{ ...line, quantity }], reference: 'SO-1', ttlSeconds: 600 });
    const kept = await call('post', '/api/stock/reservations', 201, { body: reserve(1) });
    const dropped = await call('post', '/api/stock/reservations', 201, { body: reserve(1) });
    await call('post', '/api/stock/reservations/{id}/confirm', 201, {
      path: `/api/stock/reservations/${kept.reservation.id}/confirm`,
    });
    await call('post', '/api/stock/reservations/{id}/cancel', 200, {
      path: `/api/stock/reservations/${dropped.reservation.id}/cancel`,
    });
    await call('post', '/api/stock/reservations/{id}/cancel', 409, {
      path: `/api/stock/reservations/${dropped.reservation.id}/cancel`,
    });
    await call('get', '/api/stock/reservations', 200);
    await call('get', '/api/stock/reservations/{id}', 200, { path: `/api/stock/reservations/${kept.reservation.id}` });

    await call('get', '/api/webhooks', 200);
    await call('get', '/api/webhooks/{id}', 200, { path: hook });
    await waitFor(
      'a delivery',
      async () => (await t.http.get(`${hook}/deliveries`).set(bearer(t.tokens.admin))).body.items.length > 0,
    );
    const deliveries = await call('get', '/api/webhooks/{id}/deliveries', 200, { path: `${hook}/deliveries` });
    expect(deliveries.items.length).toBeGreaterThan(0);
    await call('patch', '/api/webhooks/{id}', 200, { path: hook, body: { enabled: false, description: null } });
    await call('post', '/api/webhooks/{id}/deliveries/{deliveryId}/retry', 404, {
      path: `${hook}/deliveries/999/retry`,
    });

    expect((await call('get', '/api/events', 200)).items.length).toBeGreaterThan(0);
    await call('get', '/api/audit-logs', 200, { path: '/api/audit-logs?limit=200' });
    await call('get', '/api/audit-logs', 403, { token: t.tokens.viewer });
    await call('get', '/api/auth/me', 401, { token: 'not-a-token' });

    await call('get', '/health/live', 200);
    await call('get', '/health/ready', 200);

    const declared = Object.entries(document.paths).flatMap(([route, methods]) =>
      Object.entries(methods).flatMap(([method, op]) =>
        Object.entries(op.responses)
          .filter(([status, response]) => status.startsWith('2') && response.content?.['application/json'])
          .map(([status]) => `${method} ${route} ${status}`),
      ),
    );
    expect(declared.filter((key) => !validator.checked.has(key) && !NOT_DRIVEN.includes(key))).toEqual([]);
  });

  it('fails an answer that does not match', () => {
    expect(() => validator.check('get', '/api/auth/me', 200, { id: '1', username: 'x', role: 'admin' })).toThrow(
      /must be integer/,
    );
    expect(() =>
      validator.check('post', '/api/stock/out', 201, { movement: {}, level: { updatedAt: 'yesterday' } }),
    ).toThrow(/must have required property/);
    expect(() => validator.check('get', '/api/products/export.csv', 200, '')).toThrow(/no JSON body/);
  });
});
