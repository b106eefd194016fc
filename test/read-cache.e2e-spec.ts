/**
 * The Redis read cache (CACHE_REDIS_URL) in front of GET /api/products/:id and GET /api/stock?productId=:
 * that it answers from Redis once filled, that every kind of write to a product shows in the very next
 * read, that no read after a write's answer — on either of two instances, under concurrent writers and
 * readers — sees a level older than that write, and what happens while Redis is unreachable.
 */
import request from 'supertest';
import { startServiceProcess, ServiceProcess } from './support/service-process';
import { TcpProxy } from './support/tcp-proxy';
import { bearer, startTestApp, TestApp } from './support/test-app';
import { waitFor } from './support/wait';

type Json = Record<string, unknown>;
const REDIS = { host: '127.0.0.1', port: 6379 };

describe('read cache (CACHE_REDIS_URL)', () => {
  const proxy = new TcpProxy(REDIS.host, REDIS.port);
  let t: TestApp;
  let other: ServiceProcess;
  const manager = () => bearer(t.tokens.manager);

  beforeAll(async () => {
    await proxy.open();
    t = await startTestApp({ CACHE_REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
    // a second instance, a process of its own, on the same database and Redis (not through the proxy)
    other = await startServiceProcess({
      ...t.database.env,
      JWT_SECRET: process.env.JWT_SECRET!,
      CACHE_REDIS_URL: `redis://${REDIS.host}:${REDIS.port}`,
    });
  });
  afterAll(async () => {
    await other?.stop();
    await t?.close();
    await proxy.cut();
  });

  /** The instance's read-cache counters, from /metrics. */
  async function cacheCounts(): Promise<Record<'hit' | 'miss' | 'error', number>> {
    const text = (await t.http.get('/metrics').set(bearer(t.tokens.monitor)).expect(200)).text;
    const count = (result: string) =>
      Number(
        new RegExp(`^inventory_read_cache_requests_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0,
      );
    return { hit: count('hit'), miss: count('miss'), error: count('error') };
  }

  async function newProduct(sku: string, onHand = 0, warehouse = 'MAIN'): Promise<number> {
    const res = await t.http
      .post('/api/products')
      .set(manager())
      .send({ sku, name: `Cached ${sku}` })
      .expect(201);
    if (onHand)
      await t.http.post('/api/stock/in').set(manager()).send({ sku, quantity: onHand, warehouse }).expect(201);
    return res.body.id as number;
  }

  const product = (id: number) => t.http.get(`/api/products/${id}`).set(manager());
  const levels = (id: number) => t.http.get('/api/stock').query({ productId: id }).set(manager());

  /** Reads both until each came from the cache (the second read of each is a hit). */
  async function fill(id: number): Promise<{ product: Json; levels: Json }> {
    await product(id).expect(200);
    await levels(id).expect(200);
    const before = await cacheCounts();
    const [p, l] = [await product(id).expect(200), await levels(id).expect(200)];
    expect((await cacheCounts()).hit - before.hit).toBe(2);
    return { product: p.body as Json, levels: l.body as Json };
  }

  it('answers a product and its levels from Redis once read, the same as the database does', async () => {
    const id = await newProduct('RC-READ', 7);
    const fromDatabase = { product: (await product(id).expect(200)).body, levels: (await levels(id).expect(200)).body };
    const cached = await fill(id);
    expect(cached).toEqual(fromDatabase);
    expect(cached.product).toEqual(
      expect.objectContaining({ id, onHand: 7, stock: [{ warehouse: 'MAIN', onHand: 7 }] }),
    );
    // the ETag comes from the cached answer's version
    expect((await product(id).expect(200)).headers.etag).toBe('"1"');
    await t.http.get('/api/products/987654').set(manager()).expect(404);
  });

  it('keeps no error: a levels filter naming a warehouse not made yet answers once the warehouse exists', async () => {
    const id = await newProduct('RC-404', 3);
    const later = () => t.http.get('/api/stock').query({ productId: id, warehouse: 'RC-LATER' }).set(manager());
    await later().expect(404);
    await later().expect(404);
    // making a warehouse marks no product: only an answer that was never stored can change
    await t.http
      .post('/api/warehouses')
      .set(bearer(t.tokens.admin))
      .send({ code: 'RC-LATER', name: 'Later' })
      .expect(201);
    expect((await later().expect(200)).body).toEqual({ items: [], nextCursor: null });
  });

  describe('every write to a product shows in the next read', () => {
    const onHandOf = (body: Json) => (body as { onHand: number }).onHand;
    const levelOf = (body: Json) => (body as { items: { onHand: number; reserved: number }[] }).items[0];

    it.each([
      ['in', (sku: string) => ({ route: '/api/stock/in', body: { sku, quantity: 3 } }), 13, 0],
      ['out', (sku: string) => ({ route: '/api/stock/out', body: { sku, quantity: 4 } }), 6, 0],
      [
        'adjust',
        (sku: string) => ({ route: '/api/stock/adjust', body: { sku, countedQuantity: 2, reason: 'COUNT' } }),
        2,
        0,
      ],
      [
        'batch',
        (sku: string) => ({ route: '/api/stock/batch', body: { type: 'OUT', lines: [{ sku, quantity: 1 }] } }),
        9,
        0,
      ],
      [
        'reserve',
        (sku: string) => ({ route: '/api/stock/reservations', body: { lines: [{ sku, quantity: 5 }] } }),
        10,
        5,
      ],
    ])('stock %s', async (name, write, onHand, reserved) => {
      const sku = `RC-W-${name}`;
      const id = await newProduct(sku, 10);
      await fill(id);
      const { route, body } = write(sku);
      await t.http.post(route).set(manager()).send(body).expect(201);
      expect(onHandOf((await product(id).expect(200)).body)).toBe(onHand);
      expect(levelOf((await levels(id).expect(200)).body)).toEqual(expect.objectContaining({ onHand, reserved }));
    });

    it('a transfer, in both warehouses’ lines', async () => {
      await t.http
        .post('/api/warehouses')
        .set(bearer(t.tokens.admin))
        .send({ code: 'RC-2ND', name: 'Second' })
        .expect(201);
      const id = await newProduct('RC-W-transfer', 10);
      await fill(id);
      await t.http
        .post('/api/stock/transfer')
        .set(manager())
        .send({ productId: id, from: 'MAIN', to: 'RC-2ND', quantity: 4 })
        .expect(201);
      expect((await product(id).expect(200)).body.stock).toEqual([
        { warehouse: 'MAIN', onHand: 6 },
        { warehouse: 'RC-2ND', onHand: 4 },
      ]);
      expect((await levels(id).expect(200)).body.items.map((l: Json) => l.onHand)).toEqual([6, 4]);
      // pages of one level each, each page its own entry, each read twice (the second from the cache)
      const page = async (cursor?: string) => {
        const query = { productId: id, limit: 1, ...(cursor ? { cursor } : {}) };
        const first = await t.http.get('/api/stock').query(query).set(manager()).expect(200);
        const again = await t.http.get('/api/stock').query(query).set(manager()).expect(200);
        expect(again.body).toEqual(first.body);
        return first.body as { items: Json[]; nextCursor: string | null };
      };
      const one = await page();
      expect(one.items.map((l) => [l.warehouse, l.onHand])).toEqual([['MAIN', 6]]);
      const two = await page(one.nextCursor!);
      expect(two.items.map((l) => [l.warehouse, l.onHand])).toEqual([['RC-2ND', 4]]);
      await t.http
        .post('/api/stock/in')
        .set(manager())
        .send({ productId: id, warehouse: 'RC-2ND', quantity: 1 })
        .expect(201);
      expect((await page(one.nextCursor!)).items.map((l) => [l.warehouse, l.onHand])).toEqual([['RC-2ND', 5]]);
    });

    it('a reservation confirmed, cancelled, expired', async () => {
      const id = await newProduct('RC-W-reservations', 10);
      const reserve = async (quantity: number, ttlSeconds = 900) =>
        (
          await t.http
            .post('/api/stock/reservations')
            .set(manager())
            .send({ lines: [{ productId: id, quantity }], ttlSeconds })
            .expect(201)
        ).body.reservation.id as number;
      const [confirmed, cancelled] = [await reserve(2), await reserve(3)];
      await fill(id);
      await t.http.post(`/api/stock/reservations/${confirmed}/confirm`).set(manager()).expect(201);
      expect(levelOf((await levels(id).expect(200)).body)).toEqual(expect.objectContaining({ onHand: 8, reserved: 3 }));
      expect(onHandOf((await product(id).expect(200)).body)).toBe(8);
      await fill(id);
      await t.http.post(`/api/stock/reservations/${cancelled}/cancel`).set(manager()).expect(200);
      expect(levelOf((await levels(id).expect(200)).body)).toEqual(expect.objectContaining({ onHand: 8, reserved: 0 }));
      // the expiry sweep is a write of its own, with no request behind it
      await reserve(4, 1);
      await fill(id);
      await waitFor('the expired hold released in the cached read', async () => {
        return levelOf((await levels(id).expect(200)).body).reserved === 0;
      });
    });

    it('a product change and an archive', async () => {
      const id = await newProduct('RC-W-product');
      await fill(id);
      await t.http.patch(`/api/products/${id}`).set(manager()).send({ name: 'Renamed', reorderPoint: 2 }).expect(200);
      const changed = await product(id).expect(200);
      expect(changed.body).toEqual(expect.objectContaining({ name: 'Renamed', reorderPoint: 2, version: 2 }));
      expect(changed.headers.etag).toBe('"2"');
      await fill(id);
      await t.http.delete(`/api/products/${id}`).set(manager()).expect(204);
      await product(id).expect(404);
    });

    it('a write made on another instance', async () => {
      const id = await newProduct('RC-W-other', 10);
      await fill(id);
      await request(other.url).post('/api/stock/out').set(manager()).send({ productId: id, quantity: 10 }).expect(201);
      expect(onHandOf((await product(id).expect(200)).body)).toBe(0);
    });
  });

  it('never shows a level older than a write that has answered, across two instances under load', async () => {
    const PRODUCTS = 3;
    const WRITERS = 6;
    const WRITES_EACH = 50;
    const ids = await Promise.all(Array.from({ length: PRODUCTS }, (_, i) => newProduct(`RC-RACE-${i}`)));
    const http = [() => t.http, () => request(other.url)];
    const before = await cacheCounts();
    const stale: string[] = [];
    let writing = true;
    // readers keep filling the cache while the writers change what it holds
    const readers = Array.from({ length: 6 }, async (_, r) => {
      while (writing) {
        const id = ids[r % PRODUCTS];
        await http[r % 2]().get(`/api/products/${id}`).set(manager()).expect(200);
        await http[(r + 1) % 2]().get('/api/stock').query({ productId: id }).set(manager()).expect(200);
      }
    });
    // each writer receives stock (on-hand only grows), then reads through both instances: at least what its
    // own write's answer said must show, in the product and in its levels
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      for (let i = 0; i < WRITES_EACH; i++) {
        const id = ids[(w + i) % PRODUCTS];
        const res = await http[(w + i) % 2]()
          .post('/api/stock/in')
          .set(manager())
          .send({ productId: id, quantity: 1 })
          .expect(201);
        const written = res.body.level.onHand as number;
        for (const via of http) {
          const p = (await via().get(`/api/products/${id}`).set(manager()).expect(200)).body.onHand as number;
          const l = (await via().get('/api/stock').query({ productId: id }).set(manager()).expect(200)).body.items[0]
            .onHand as number;
          if (p < written || l < written) stale.push(`product ${id}: wrote ${written}, read ${p} / ${l}`);
        }
      }
    });
    await Promise.all(writers);
    writing = false;
    await Promise.all(readers);
    expect(stale).toEqual([]);
    // the cache was in play, not bypassed
    expect((await cacheCounts()).hit - before.hit).toBeGreaterThan(50);
    // and once the writes are over, every cached answer agrees with the database
    const total = (
      await Promise.all(ids.map(async (id) => (await product(id).expect(200)).body.onHand as number))
    ).reduce((a, b) => a + b);
    expect(total).toBe(WRITERS * WRITES_EACH);
  });

  it('reads from the database while Redis is unreachable, and refuses writes with nothing changed', async () => {
    const id = await newProduct('RC-DOWN', 5);
    await fill(id);
    await proxy.cut();
    try {
      const before = await cacheCounts();
      expect((await product(id).expect(200)).body.onHand).toBe(5);
      expect((await cacheCounts()).error).toBeGreaterThan(before.error);
      const refused = await t.http
        .post('/api/stock/in')
        .set(manager())
        .send({ productId: id, quantity: 1 })
        .expect(503);
      expect(refused.body).toEqual(expect.objectContaining({ statusCode: 503, code: 'SERVICE_UNAVAILABLE' }));
      expect(refused.headers['retry-after']).toBeDefined();
      expect((await levels(id).expect(200)).body.items[0].onHand).toBe(5);
      await t.http.patch(`/api/products/${id}`).set(manager()).send({ name: 'Not now' }).expect(503);
      await t.http.post('/api/products').set(manager()).send({ sku: 'RC-NOT-MADE', name: 'Not made' }).expect(503);
      await t.http
        .get('/api/products')
        .query({ sku: 'RC-NOT-MADE' })
        .set(manager())
        .expect(200, { items: [], nextCursor: null });
      expect((await product(id).expect(200)).body.name).toBe('Cached RC-DOWN');
      // the other instance reaches Redis: its writes go on, and this one's reads, from the database, show them
      await request(other.url).post('/api/stock/in').set(manager()).send({ productId: id, quantity: 2 }).expect(201);
      expect((await product(id).expect(200)).body.onHand).toBe(7);
    } finally {
      await proxy.open();
    }
    await waitFor('writes accepted again', async () => {
      const res = await t.http.post('/api/stock/in').set(manager()).send({ productId: id, quantity: 1 });
      return res.status === 201;
    });
    expect((await product(id).expect(200)).body.onHand).toBe(8);
    expect((await levels(id).expect(200)).body.items[0].onHand).toBe(8);
  });
});
