import { loginTo } from './support/service-client';
import { ADMIN, serviceEnv } from './support/service-env';
import { ServiceProcess, startServiceProcess } from './support/service-process';
import { TcpProxy } from './support/tcp-proxy';
import { createTestDatabase, MYSQL_TEST_SERVER, TestDatabase, testDbType } from './support/test-database';
import { within } from './support/wait';

// A database that goes away and comes back: MySQL/MariaDB only (SQLite is a file inside the process).
(testDbType() === 'mysql' ? describe : describe.skip)('database outage', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let service: ServiceProcess;
  let token: string;

  const get = (path: string) => fetch(`${service.url}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  const post = (path: string, body: unknown) =>
    fetch(`${service.url}${path}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    database = await createTestDatabase();
    proxy = new TcpProxy(MYSQL_TEST_SERVER.host, MYSQL_TEST_SERVER.port);
    await proxy.open();
    service = await startServiceProcess(serviceEnv(database, { DB_HOST: '127.0.0.1', DB_PORT: String(proxy.port) }));
    token = await loginTo(service.url, ADMIN);
  });

  afterAll(async () => {
    await service?.stop();
    await proxy?.cut();
    await database?.drop();
  });

  it('is ready while the database answers', async () => {
    expect((await fetch(`${service.url}/health/ready`)).status).toBe(200);
  });

  it('turns unready and answers 503 SERVICE_UNAVAILABLE with Retry-After while the database is gone', async () => {
    const product = (await (await post('/api/products', { sku: 'OUT-1', name: 'Outage' })).json()) as { id: number };
    await proxy.cut();

    expect(await within(2000, async () => (await fetch(`${service.url}/health/ready`)).status === 503)).toBe(true);
    const ready = await fetch(`${service.url}/health/ready`);
    const body = (await ready.json()) as object;
    expect(body).toMatchObject({ status: 'error', error: { database: { status: 'down' } } });
    // which part is down, never the driver's words: no host, port, user or error code
    expect(JSON.stringify(body)).not.toMatch(
      new RegExp(`127\\.0\\.0\\.1|${proxy.port}|root|ECONN|PROTOCOL_|connect|mysql|mariadb`, 'i'),
    );

    for (const res of [
      await post('/api/stock/in', { productId: product.id, quantity: 5 }),
      await get('/api/products'),
    ]) {
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      const body = (await res.json()) as { code: string; message: string };
      expect(body.code).toBe('SERVICE_UNAVAILABLE');
      expect(body.message).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|SELECT|INSERT/);
    }
    expect((await fetch(`${service.url}/health/live`)).status).toBe(200);
  });

  it('recovers by itself when the database returns, with nothing half-done kept', async () => {
    await proxy.open(); // same port
    expect(await within(5000, async () => (await fetch(`${service.url}/health/ready`)).status === 200)).toBe(true);
    const products = (await (await get('/api/products?sku=OUT-1')).json()) as {
      items: { id: number; onHand: number }[];
    };
    expect(products.items).toHaveLength(1);
    expect(products.items[0].onHand).toBe(0); // the stock-in refused during the outage left nothing
    const res = await post('/api/stock/in', { productId: products.items[0].id, quantity: 5 });
    expect(res.status).toBe(201);
  });
});
