import { jest } from '@jest/globals';
import { ReadinessCheck } from '../src/modules/health/readiness';
import { bearer, startTestApp, TestApp } from './support/test-app';

describe('health and metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('answers the liveness probe without a token', async () => {
    await t.http.get('/health/live').expect(200);
  });

  it('is ready when the database answers and the schema is current (terminus body)', async () => {
    const res = await t.http.get('/health/ready').expect(200);
    expect(res.body).toMatchObject({
      status: 'ok',
      details: { database: { status: 'up' }, schema: { status: 'up' } },
    });
  });

  it('answers many probes from one database check a second', async () => {
    const readiness = t.app.get(ReadinessCheck);
    const checks = jest.spyOn(readiness, 'check');
    try {
      const burst = await Promise.all(Array.from({ length: 50 }, () => t.http.get('/health/ready')));
      expect(burst.map((res) => res.status)).toEqual(burst.map(() => 200));
      expect(checks.mock.calls.length).toBeLessThanOrEqual(1);
      // probes one after another for 1.5 s: a check at most every second, so at most 3
      const started = Date.now();
      let probes = 0;
      while (Date.now() - started < 1500) {
        await t.http.get('/health/ready').expect(200);
        probes++;
      }
      expect(probes).toBeGreaterThan(20);
      expect(checks.mock.calls.length).toBeGreaterThanOrEqual(1);
      expect(checks.mock.calls.length).toBeLessThanOrEqual(3);
    } finally {
      checks.mockRestore();
    }
  });

  it('serves Prometheus text to monitor and admin only', async () => {
    await t.http.get('/metrics').expect(401);
    await t.http.get('/metrics').set(bearer(t.tokens.viewer)).expect(403);
    await t.http.get('/metrics').set(bearer(t.tokens.manager)).expect(403);
    await t.http.get('/metrics').set(bearer(t.tokens.admin)).expect(200);
    const res = await t.http.get('/metrics').set(bearer(t.tokens.monitor)).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
  });

  it('exports every family the contract names, labelled by route template', async () => {
    const product = await t.http
      .post('/api/products')
      .set(bearer(t.tokens.manager))
      .send({ sku: 'MET-1', name: 'Metered' })
      .expect(201);
    await t.http.get(`/api/products/${product.body.id}`).set(bearer(t.tokens.viewer)).expect(200);
    await t.http.get('/no/such/route').expect(404);
    await t.http.post('/api/stock/in').set(bearer(t.tokens.operator)).send({ productId: product.body.id, quantity: 5 });
    await t.http
      .post('/api/stock/out')
      .set(bearer(t.tokens.operator))
      .send({ productId: product.body.id, quantity: 50 });
    const replayKey = { 'Idempotency-Key': 'metrics-replay' };
    const body = { productId: product.body.id, quantity: 1 };
    await t.http.post('/api/stock/in').set(bearer(t.tokens.operator)).set(replayKey).send(body).expect(201);
    await t.http.post('/api/stock/in').set(bearer(t.tokens.operator)).set(replayKey).send(body).expect(201);
    await t.http.post('/api/auth/login').send({ username: 'nobody-here', password: 'wrong-password-1' }).expect(401);

    const text = (await t.http.get('/metrics').set(bearer(t.tokens.monitor)).expect(200)).text;
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toMatch(/^http_requests_total\{method="GET",route="\/api\/products\/:id",status_code="200"\} 1$/m);
    expect(text).toMatch(/^http_requests_total\{method="GET",route="unmatched",status_code="404"\} \d+$/m);
    expect(text).not.toMatch(/route="\/api\/products\/\d+"/);
    expect(text).toMatch(
      /^http_request_duration_seconds_bucket\{le="[^"]+",method="GET",route="\/api\/products\/:id"/m,
    );
    expect(text).toMatch(/^inventory_stock_movements_total\{type="IN"\} 2$/m);
    expect(text).toMatch(/^inventory_stock_rejections_total\{reason="INSUFFICIENT_STOCK"\} 1$/m);
    expect(text).toMatch(/^inventory_stock_transaction_duration_seconds_count \d+$/m);
    expect(text).toMatch(/^# TYPE inventory_db_retries_total counter$/m);
    expect(text).toMatch(/^inventory_idempotent_replays_total 1$/m);
    expect(text).toMatch(/^inventory_auth_failures_total\{reason="invalid_credentials"\} 1$/m);
    expect(text).toMatch(/^inventory_stock_lock_wait_seconds_count [1-9]\d*$/m);
    expect(text).toMatch(/^inventory_stock_group_writes_count [1-9]\d*$/m);
    expect(text).toMatch(/^inventory_db_pool_connections\{state="open"\} [1-9]\d*$/m);
  });
});
