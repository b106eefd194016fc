import { readFileSync } from 'node:fs';
import { createConnection } from 'mysql2/promise';
import { ShutdownState } from '../src/modules/health/shutdown-state';
import { loginTo } from './support/service-client';
import { ADMIN, serviceEnv } from './support/service-env';
import { ServiceProcess, startServiceProcess } from './support/service-process';
import { bearer, startTestApp, TestApp } from './support/test-app';
import { createTestDatabase, MYSQL_TEST_SERVER, TestDatabase, testDbType } from './support/test-database';
import { waitFor } from './support/wait';

/**
 * SIGTERM as an orchestrator sends it: readiness turns 503, what is in flight finishes and is kept,
 * what arrives is refused with a clear 503, the pool closes and the process exits 0 with its logs written.
 * SIGKILL as a crash: what had not committed is gone, its Idempotency-Key with it.
 */
const BURST = 30;

describe('while draining (in process)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    t.app.get(ShutdownState).begin(); // what SIGTERM does first
  });
  afterAll(() => t?.close());

  it('readiness answers 503 with the terminus body naming the shutdown; liveness stays 200', async () => {
    const ready = await t.http.get('/health/ready').expect(503);
    expect(ready.body.status).toBe('error');
    expect(ready.body.error.process).toEqual({ status: 'down', message: 'shutting down' });
    await t.http.get('/health/live').expect(200);
  });

  it('answers a request arriving on an open connection 503 SERVICE_UNAVAILABLE and closes the connection', async () => {
    const res = await t.http.get('/api/products').set(bearer(t.tokens.viewer)).expect(503);
    expect(res.body).toEqual({
      statusCode: 503,
      code: 'SERVICE_UNAVAILABLE',
      message: expect.any(String),
      requestId: res.headers['x-request-id'],
    });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(res.headers.connection).toBe('close');
  });
});

describe('SIGTERM (service process)', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  const running: ServiceProcess[] = [];

  const start = async () => {
    const service = await startServiceProcess(env);
    running.push(service);
    const token = await loginTo(service.url, ADMIN);
    const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(`${service.url}${path}`, {
        method,
        headers: { ...bearer(token), 'Content-Type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
    };
    return { service, call };
  };
  const onHand = async (call: Awaited<ReturnType<typeof start>>['call'], productId: number) => {
    const res = await call('GET', `/api/stock?productId=${productId}&warehouse=MAIN`);
    return ((res.body.items as { onHand: number }[])[0]?.onHand ?? 0) as number;
  };
  const exitOf = (service: ServiceProcess) =>
    new Promise<number | null>((resolve) => {
      if (service.child.exitCode !== null || service.child.signalCode !== null) return resolve(service.child.exitCode);
      service.child.once('exit', (code) => resolve(code));
    });
  const logLines = (service: ServiceProcess) =>
    readFileSync(service.logFile, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg: string; req?: { url: string }; res?: { statusCode: number } });

  /** MySQL: holds a product's level rows, so a write to them waits inside its transaction. */
  const holdLevels = async (productId: number) => {
    const blocker = await createConnection({ ...MYSQL_TEST_SERVER, database: database.env.DB_NAME });
    await blocker.query('START TRANSACTION');
    await blocker.query('SELECT on_hand FROM stock_levels WHERE product_id = ? FOR UPDATE', [productId]);
    return {
      /** Resolves once the service's locking read is running: it cannot finish while the rows are held. */
      writeWaiting: async () => {
        const sql =
          "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE '%FROM stock_levels%FOR UPDATE%' AND ID <> CONNECTION_ID()";
        const count = async () =>
          ((await blocker.query(sql, [database.env.DB_NAME])) as unknown as [{ n: number }[]])[0][0].n;
        await waitFor('the service locking the held levels', async () => (await count()) > 0);
      },
      release: () => blocker.query('COMMIT'),
      end: () => blocker.end(),
    };
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    env = serviceEnv(database);
  });
  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop()));
    await database?.drop();
  });

  it(`under ${BURST} parallel stock-ins: exits 0, answers each 201 or 503, and keeps exactly the 201s`, async () => {
    const { service, call } = await start();
    const product = await call('POST', '/api/products', { sku: 'DRAIN-1', name: 'Drain' });
    expect(product.status).toBe(201);
    const productId = product.body.id as number;

    let answered = 0;
    const burst = Array.from({ length: BURST }, () =>
      call('POST', '/api/stock/in', { productId, quantity: 1 }).then(
        (res) => {
          if (++answered === 1) service.child.kill('SIGTERM'); // the rest are in flight or on their way
          return res;
        },
        () => null, // connection refused or reset: never acknowledged
      ),
    );
    const answers = await Promise.all(burst);
    expect(await exitOf(service)).toBe(0);

    const accepted = answers.filter((a) => a?.status === 201).length;
    for (const a of answers) {
      if (a === null || a.status === 201) continue;
      expect(a.status).toBe(503);
      expect(a.body.code).toBe('SERVICE_UNAVAILABLE');
      expect(Number(a.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(accepted).toBeGreaterThan(0);

    // the log was written to the end: every acknowledged write is in it, then the last words
    const lines = logLines(service);
    expect(lines.filter((l) => l.req?.url === '/api/stock/in' && l.res?.statusCode === 201)).toHaveLength(accepted);
    expect(lines.at(-1)?.msg).toMatch(/^Drained/);

    // a new process on the same database sees exactly what was acknowledged
    const again = await start();
    expect(await onHand(again.call, productId)).toBe(accepted);
    const movements = await again.call('GET', `/api/stock/movements?productId=${productId}&limit=200`);
    expect(movements.body.items).toHaveLength(accepted);
    expect((await again.call('GET', '/api/stock/reconcile')).body.mismatches).toEqual([]);
    expect(await again.service.stop()).toBe(0);
  });

  (testDbType() === 'mysql' ? it : it.skip)(
    'waits for a request that is blocked on a row lock, answers it 201, then exits 0',
    async () => {
      const { service, call } = await start();
      const productId = (await call('POST', '/api/products', { sku: 'DRAIN-2', name: 'Drain' })).body.id as number;
      expect((await call('POST', '/api/stock/in', { productId, quantity: 10 })).status).toBe(201);

      const held = await holdLevels(productId);
      try {
        const blocked = call('POST', '/api/stock/out', { productId, quantity: 3 });
        await held.writeWaiting();

        service.child.kill('SIGTERM');
        const draining = () => readFileSync(service.logFile, 'utf8').includes('draining in-flight requests');
        await waitFor('the drain to begin', draining);
        // past the settle the listener is closed (a new connection is refused); the blocked request still holds the exit
        const refused = () =>
          fetch(`${service.url}/health/live`).then(
            () => false,
            () => true,
          );
        await waitFor('the listener to close', refused);
        expect(service.child.exitCode).toBeNull();

        await held.release();
        const answer = await blocked;
        expect(answer.status).toBe(201);
        expect((answer.body.movement as { balanceAfter: number }).balanceAfter).toBe(7);
        expect(answer.headers.get('connection')).toBe('close');
        expect(await exitOf(service)).toBe(0);
      } finally {
        await held.end();
      }

      const again = await start();
      expect(await onHand(again.call, productId)).toBe(7);
    },
  );

  (testDbType() === 'mysql' ? it : it.skip)(
    'a process killed before COMMIT leaves nothing behind, and its Idempotency-Key is free for the retry at once',
    async () => {
      const { service, call } = await start();
      const productId = (await call('POST', '/api/products', { sku: 'KILL-1', name: 'Kill' })).body.id as number;
      expect((await call('POST', '/api/stock/in', { productId, quantity: 10 })).status).toBe(201);
      const key = { 'Idempotency-Key': 'killed-before-commit' };
      const body = { productId, quantity: 3 };

      const held = await holdLevels(productId);
      try {
        const lost = call('POST', '/api/stock/out', body, key).then(
          () => 'answered',
          () => 'lost',
        );
        await held.writeWaiting();
        service.child.kill('SIGKILL');
        expect(await lost).toBe('lost');
        await held.release();
      } finally {
        await held.end();
      }

      const again = await start();
      const retry = await again.call('POST', '/api/stock/out', body, key);
      expect(retry.status).toBe(201);
      expect(retry.headers.get('idempotent-replayed')).toBeNull();
      expect((retry.body.movement as { balanceAfter: number }).balanceAfter).toBe(7);
      expect(await onHand(again.call, productId)).toBe(7);
      expect((await again.call('GET', '/api/stock/reconcile')).body.mismatches).toEqual([]);
    },
  );
});
