import type { ProductView } from '../src/modules/products/dto/product.dto';
import type { Page } from '../src/common/http/pagination';
import type { LevelView, MovementView } from '../src/modules/stock/stock.views';
import { expectError, expectNotFound, expectValidation } from './support/errors';
import {
  Json,
  MOVEMENT_TYPES,
  StockRoute,
  auditedMovementIds,
  expectLevel,
  expectMovement,
  stockSuite,
} from './support/stock';
import { bearer } from './support/test-app';
import { waitFor } from './support/wait';

/**
 * The reads of stock (levels, movements, product on-hand) and the audit entries stock writes leave.
 * Over HTTP on this jest project's driver, one app for the file (support/stock.ts).
 */
const s = stockSuite();

// ---------------------------------------------------------------- GET /api/stock

describe('GET /api/stock', () => {
  it('lists levels, filtered by productId, sku (any case) and warehouse', async () => {
    const product = await s.createProduct('Levels');
    const other = await s.createProduct('Levels-Other');
    const w1 = await s.createWarehouse('LVA');
    const w2 = await s.createWarehouse('LVB');
    await s.stockIn(product.id, 1);
    await s.stockIn(product.id, 2, w1);
    const last = await s.stockIn(product.id, 3, w2);
    await s.stockIn(other.id, 4, w1);

    const byId = await s.t.http.get(`/api/stock?productId=${product.id}`).set(bearer(s.t.tokens.viewer));
    expect(byId.status).toBe(200);
    expect(Object.keys(byId.body as Json).sort()).toEqual(['items', 'nextCursor']);
    expect(byId.body.nextCursor).toBeNull();
    const items = byId.body.items as LevelView[];
    for (const level of items) expectLevel(level, { productId: product.id, sku: product.sku });
    expect(items.map((l) => [l.warehouse, l.onHand]).sort()).toEqual(
      [
        ['MAIN', 1],
        [w1, 2],
        [w2, 3],
      ].sort(),
    );
    expect(items.find((l) => l.warehouse === w2)).toEqual(last.level);

    const bySku = await s.t.http.get(`/api/stock?sku=${product.sku.toLowerCase()}`).set(bearer(s.t.tokens.viewer));
    expect(bySku.status).toBe(200);
    expect(bySku.body.items).toEqual(items);

    const byWarehouse = await s.t.http.get(`/api/stock?warehouse=${w1}&limit=200`).set(bearer(s.t.tokens.viewer));
    expect(byWarehouse.status).toBe(200);
    expect((byWarehouse.body.items as LevelView[]).map((l) => [l.productId, l.onHand]).sort()).toEqual(
      [
        [product.id, 2],
        [other.id, 4],
      ].sort(),
    );

    const both = await s.t.http.get(`/api/stock?sku=${product.sku}&warehouse=${w2}`).set(bearer(s.t.tokens.viewer));
    expect(both.body.items).toEqual([last.level]);
  });

  it('unknown sku, productId or warehouse in the filter: 404 NOT_FOUND naming it', async () => {
    const get = (q: string) => s.t.http.get(`/api/stock?${q}`).set(bearer(s.t.tokens.viewer));
    expectNotFound(await get('sku=NO-SUCH-FILTER'), 'NO-SUCH-FILTER');
    expectNotFound(await get('productId=99999995'), 99999995);
    expectNotFound(await get('warehouse=NOWHERE'), 'NOWHERE');
  });

  it('pages with limit and cursor: every level once, none missing', async () => {
    for (let i = 0; i < 3; i++) await s.stockIn((await s.createProduct('Levels-Page')).id, i + 1);
    const rows = await s.query<{ product_id: number; warehouse_id: number }>(
      'SELECT l.product_id, l.warehouse_id FROM stock_levels l JOIN products p ON p.id = l.product_id WHERE p.archived_at IS NULL',
    );
    const { items, pages } = await s.walk<LevelView>('/api/stock', 3);
    expect(pages).toBeGreaterThan(2);
    const keys = items.map((l) => `${l.productId}@${l.warehouse}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(items).toHaveLength(rows.length);
    const all = await s.t.http.get('/api/stock?limit=200').set(bearer(s.t.tokens.viewer)).expect(200);
    expect(all.body.items).toEqual(items);
    const first = await s.t.http.get('/api/stock').set(bearer(s.t.tokens.viewer)).expect(200);
    expect(first.body.items).toHaveLength(Math.min(50, rows.length));
  });

  it('limit outside 1..200 or a bad cursor: 400; viewer may read, monitor may not', async () => {
    for (const limit of ['0', '201', '-1', 'abc', '1.5']) {
      const res = await s.t.http.get(`/api/stock?limit=${limit}`).set(bearer(s.t.tokens.viewer));
      expect({ limit, status: res.status }).toEqual({ limit, status: 400 });
      expectValidation(res, ['limit']);
    }
    expectValidation(await s.t.http.get('/api/stock?cursor=garbage!').set(bearer(s.t.tokens.viewer)), ['cursor']);
    expectError(await s.t.http.get('/api/stock').set(bearer(s.t.tokens.monitor)), 403, 'FORBIDDEN');
    expectError(await s.t.http.get('/api/stock/movements').set(bearer(s.t.tokens.monitor)), 403, 'FORBIDDEN');
    expectError(await s.t.http.get('/api/stock'), 401, 'UNAUTHORIZED');
  });
});

// ---------------------------------------------------------------- GET /api/stock/movements

describe('GET /api/stock/movements', () => {
  it('newest first, with every field, equal to what the writes answered', async () => {
    const product = await s.createProduct('Mv-Order');
    const w = await s.createWarehouse('MVO');
    const answered: MovementView[] = [];
    answered.push((await s.stockIn(product.id, 5)).movement);
    answered.push((await s.ok<{ movement: MovementView }>('out', { productId: product.id, quantity: 2 })).movement);
    answered.push(
      ...(
        await s.ok<{ movements: MovementView[] }>('transfer', {
          productId: product.id,
          from: 'MAIN',
          to: w,
          quantity: 1,
        })
      ).movements,
    );
    answered.push(
      (await s.ok<{ movement: MovementView }>('adjust', { productId: product.id, countedQuantity: 7, reason: 'COUNT' }))
        .movement,
    );
    const listed = await s.movementsOf(product.id);
    for (const m of listed) expectMovement(m, { productId: product.id });
    expect(listed).toEqual([...answered].reverse());
    const ids = listed.map((m) => m.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));

    // newest first over everything too
    const all = await s.t.http.get('/api/stock/movements?limit=200').set(bearer(s.t.tokens.viewer)).expect(200);
    const allIds = (all.body.items as MovementView[]).map((m) => m.id);
    expect(allIds).toEqual([...allIds].sort((a, b) => b - a));
    expect(allIds[0]).toBe(answered[answered.length - 1].id);
  });

  it('filters by productId, sku, warehouse and type', async () => {
    const a = await s.createProduct('Mv-Filter-A');
    const b = await s.createProduct('Mv-Filter-B');
    const w = await s.createWarehouse('MVF');
    await s.stockIn(a.id, 5);
    await s.stockIn(a.id, 5, w);
    await s.stockIn(b.id, 5, w);
    await s.ok('out', { productId: a.id, quantity: 1, warehouse: w });
    await s.ok('transfer', { productId: b.id, from: w, to: 'MAIN', quantity: 2 });
    await s.ok('adjust', { productId: a.id, delta: 1, reason: 'FOUND' });

    const get = async (q: string) => {
      const res = await s.t.http.get(`/api/stock/movements?limit=200&${q}`).set(bearer(s.t.tokens.viewer));
      expect(res.status).toBe(200);
      return (res.body as Page<MovementView>).items;
    };
    const ofA = await get(`productId=${a.id}`);
    expect(ofA.map((m) => [m.type, m.warehouse, m.quantity])).toEqual([
      ['ADJUST', 'MAIN', 1],
      ['OUT', w, -1],
      ['IN', w, 5],
      ['IN', 'MAIN', 5],
    ]);
    expect(await get(`sku=${a.sku.toLowerCase()}`)).toEqual(ofA);
    const inW = await get(`warehouse=${w}`);
    expect(inW.map((m) => [m.productId, m.type])).toEqual([
      [b.id, 'TRANSFER_OUT'],
      [a.id, 'OUT'],
      [b.id, 'IN'],
      [a.id, 'IN'],
    ]);
    expect((await get(`productId=${a.id}&warehouse=MAIN`)).map((m) => m.type)).toEqual(['ADJUST', 'IN']);
    expect((await get(`productId=${b.id}&type=TRANSFER_IN`)).map((m) => [m.warehouse, m.quantity])).toEqual([
      ['MAIN', 2],
    ]);
    expect((await get(`sku=${a.sku}&type=IN`)).map((m) => m.warehouse)).toEqual([w, 'MAIN']);
    for (const type of MOVEMENT_TYPES) {
      const items = await get(`type=${type}`);
      expect(items.length).toBeGreaterThan(0);
      expect(items.every((m) => m.type === type)).toBe(true);
    }
    for (const bad of ['type=SOLD', 'type=in', 'from=yesterday', 'to=2024-13-45T00:00:00.000Z', 'productId=abc']) {
      const res = await s.t.http.get(`/api/stock/movements?${bad}`).set(bearer(s.t.tokens.viewer));
      expect({ bad, status: res.status }).toEqual({ bad, status: 400 });
      expectError(res, 400, 'VALIDATION_FAILED');
    }
    expectNotFound(
      await s.t.http.get('/api/stock/movements?sku=NO-SUCH-MV').set(bearer(s.t.tokens.viewer)),
      'NO-SUCH-MV',
    );
  });

  it('from and to are ISO times, both inclusive', async () => {
    const product = await s.createProduct('Mv-Time');
    for (let i = 1; i <= 6; i++) {
      await s.stockIn(product.id, i);
      // distinct milliseconds make the bounds meaningful (ordering only, no durations asserted)
      const start = Date.now();
      await waitFor('the next millisecond', () => Date.now() !== start, 1000);
    }
    const all = await s.movementsOf(product.id);
    expect(all).toHaveLength(6);
    const times = all.map((m) => m.createdAt);
    const get = async (q: string) => {
      const res = await s.t.http
        .get(`/api/stock/movements?productId=${product.id}&limit=200&${q}`)
        .set(bearer(s.t.tokens.viewer));
      expect(res.status).toBe(200);
      return (res.body as Page<MovementView>).items.map((m) => m.id);
    };
    const expected = (from?: string, to?: string) =>
      all
        .filter((m) => (from === undefined || m.createdAt >= from) && (to === undefined || m.createdAt <= to))
        .map((m) => m.id);

    const [newest, , mid, , , oldest] = times;
    expect(await get(`from=${oldest}`)).toEqual(all.map((m) => m.id));
    expect(await get(`to=${newest}`)).toEqual(all.map((m) => m.id));
    expect(await get(`from=${mid}`)).toEqual(expected(mid));
    expect(await get(`to=${mid}`)).toEqual(expected(undefined, mid));
    expect(await get(`from=${mid}&to=${mid}`)).toEqual(expected(mid, mid));
    expect(await get(`from=${mid}&to=${mid}`)).toContain(all[2].id);
    expect(await get(`from=${oldest}&to=${newest}`)).toEqual(all.map((m) => m.id));
    const after = new Date(new Date(newest).getTime() + 1).toISOString();
    const before = new Date(new Date(oldest).getTime() - 1).toISOString();
    expect(await get(`from=${after}`)).toEqual([]);
    expect(await get(`to=${before}`)).toEqual([]);
    expect(await get(`from=${before}&to=${after}`)).toEqual(all.map((m) => m.id));
    // a time with an offset is the same instant
    const offset = new Date(new Date(mid).getTime() + 2 * 3600_000).toISOString().replace('Z', '+02:00');
    expect(await get(`from=${encodeURIComponent(offset)}&to=${encodeURIComponent(offset)}`)).toEqual(
      expected(mid, mid),
    );
  });

  it('keyset pagination: a walk sees every movement once, in order, even with inserts between pages', async () => {
    const product = await s.createProduct('Mv-Page');
    for (let i = 1; i <= 7; i++) await s.stockIn(product.id, i);
    const all = (await s.movementsOf(product.id)).map((m) => m.id);
    expect(all).toHaveLength(7);

    const path = `/api/stock/movements?productId=${product.id}`;
    const first = await s.t.http.get(`${path}&limit=3`).set(bearer(s.t.tokens.viewer)).expect(200);
    expect((first.body.items as MovementView[]).map((m) => m.id)).toEqual(all.slice(0, 3));
    expect(typeof first.body.nextCursor).toBe('string');
    // a newer movement lands between pages: the walk goes on where it was
    const inserted = (await s.stockIn(product.id, 100)).movement.id;
    const seen = (first.body.items as MovementView[]).map((m) => m.id);
    let cursor = first.body.nextCursor as string | null;
    while (cursor !== null) {
      const res = await s.t.http
        .get(`${path}&limit=3&cursor=${encodeURIComponent(cursor)}`)
        .set(bearer(s.t.tokens.viewer))
        .expect(200);
      seen.push(...(res.body.items as MovementView[]).map((m) => m.id));
      cursor = res.body.nextCursor as string | null;
    }
    expect(seen).toEqual(all);
    expect(seen).not.toContain(inserted);

    // every movement of the database, one by seven pages
    const [count] = await s.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM stock_movements');
    const { items } = await s.walk<MovementView>('/api/stock/movements', 7);
    const ids = items.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(Number(count.n));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));

    for (const limit of ['0', '201', 'x']) {
      expectValidation(await s.t.http.get(`/api/stock/movements?limit=${limit}`).set(bearer(s.t.tokens.viewer)), [
        'limit',
      ]);
    }
    expectValidation(await s.t.http.get('/api/stock/movements?cursor=%25%25').set(bearer(s.t.tokens.viewer)), [
      'cursor',
    ]);
  });
});

// ---------------------------------------------------------------- products follow stock

describe('product onHand and lowStock follow real stock', () => {
  it('onHand sums the warehouses; lowStock keeps total available (here on hand: nothing reserved) <= reorderPoint', async () => {
    const product = await s.createProduct('Low', 5);
    const w = await s.createWarehouse('LOW');
    const isLow = async () => {
      const res = await s.t.http.get(`/api/products?lowStock=true&sku=${product.sku}`).set(bearer(s.t.tokens.viewer));
      expect(res.status).toBe(200);
      const ids = (res.body.items as ProductView[]).map((p) => p.id);
      const high = await s.t.http.get(`/api/products?lowStock=false&sku=${product.sku}`).set(bearer(s.t.tokens.viewer));
      expect(high.status).toBe(200);
      expect((high.body.items as ProductView[]).map((p) => p.id)).toEqual(ids.length ? [] : [product.id]);
      return ids.includes(product.id);
    };
    const listed = async () => {
      const res = await s.t.http.get(`/api/products?sku=${product.sku}`).set(bearer(s.t.tokens.viewer)).expect(200);
      return (res.body.items as ProductView[])[0].onHand;
    };

    expect(await isLow()).toBe(true);
    await s.stockIn(product.id, 6);
    expect((await s.getProduct(product.id)).onHand).toBe(6);
    expect(await listed()).toBe(6);
    expect(await isLow()).toBe(false);

    await s.ok('out', { productId: product.id, quantity: 1 });
    expect(await listed()).toBe(5);
    expect(await isLow()).toBe(true); // 5 <= 5

    await s.stockIn(product.id, 2, w);
    const detail = await s.getProduct(product.id);
    expect(detail.onHand).toBe(7);
    expect(detail.stock).toEqual(
      expect.arrayContaining([
        { warehouse: 'MAIN', onHand: 5 },
        { warehouse: w, onHand: 2 },
      ]),
    );
    expect(await isLow()).toBe(false);

    await s.ok('transfer', { productId: product.id, from: w, to: 'MAIN', quantity: 2 });
    expect(await listed()).toBe(7);
    expect(await isLow()).toBe(false);
    await s.ok('adjust', { productId: product.id, countedQuantity: 2, reason: 'LOSS' });
    expect(await listed()).toBe(2);
    expect(await isLow()).toBe(true);
    await s.ok('batch', { type: 'OUT', lines: [{ productId: product.id, quantity: 2 }] });
    expect(await listed()).toBe(0);

    // a refused write changes nothing the products show
    expectError(await s.post('out', { productId: product.id, quantity: 1 }), 409, 'INSUFFICIENT_STOCK');
    expect((await s.getProduct(product.id)).onHand).toBe(0);
  });
});

// ---------------------------------------------------------------- audit

describe('audit of stock writes', () => {
  it('each write adds one entry: stock.<route>, entityType movement, entityId its first movement, after listing them', async () => {
    const product = await s.createProduct('Audit');
    const w = await s.createWarehouse('AUD');
    const writes: [StockRoute, Json, string][] = [
      ['in', { productId: product.id, quantity: 10 }, 'stock.in'],
      ['out', { productId: product.id, quantity: 1 }, 'stock.out'],
      ['adjust', { productId: product.id, delta: -1, reason: 'DAMAGE' }, 'stock.adjust'],
      ['transfer', { productId: product.id, from: 'MAIN', to: w, quantity: 3 }, 'stock.transfer'],
      [
        'batch',
        {
          type: 'IN',
          lines: [
            { productId: product.id, quantity: 1 },
            { productId: product.id, quantity: 2, warehouse: w },
          ],
        },
        'stock.batch',
      ],
    ];
    for (const [route, body, action] of writes) {
      const before = await s.snapshot();
      const res = await s.post(route, body);
      expect({ route, status: res.status }).toEqual({ route, status: 201 });
      const movements: MovementView[] = res.body.movements ?? [res.body.movement];
      const after = await s.snapshot();
      expect({ route, audits: after.stockAudits }).toEqual({ route, audits: before.stockAudits + 1 });

      const rows = await s.auditFor(movements[0].id);
      expect({ route, rows: rows.length }).toEqual({ route, rows: 1 });
      const [row] = rows;
      expect(row).toEqual(
        expect.objectContaining({
          action,
          entity_type: 'movement',
          entity_id: String(movements[0].id),
          actor_username: route === 'adjust' ? s.manager.username : s.operator.username,
          request_id: res.headers['x-request-id'],
        }),
      );
      expect(Number(row.actor_id)).toBe(route === 'adjust' ? s.manager.id : s.operator.id);
      expect(auditedMovementIds(row.after)).toEqual(movements.map((m) => m.id));
    }
  });

  it('the entries of stock writes are readable through GET /api/audit-logs', async () => {
    const product = await s.createProduct('Audit-Api');
    const res = await s.post('in', { productId: product.id, quantity: 1 });
    expect(res.status).toBe(201);
    const id = String(res.body.movement.id);
    const api = await s.t.http
      .get(`/api/audit-logs?entityType=movement&entityId=${id}&action=stock.in`)
      .set(bearer(s.t.tokens.manager));
    expect(api.status).toBe(200);
    expect(api.body.items).toHaveLength(1);
    expect(api.body.items[0]).toEqual(
      expect.objectContaining({
        action: 'stock.in',
        entityType: 'movement',
        entityId: id,
        actor: { id: s.operator.id, username: s.operator.username, role: 'operator' },
        requestId: res.headers['x-request-id'],
      }),
    );
  });

  it('refused writes leave no audit entry', async () => {
    const product = await s.createProduct('Audit-Refused');
    const before = await s.snapshot();
    expectError(await s.post('out', { productId: product.id, quantity: 1 }), 409, 'INSUFFICIENT_STOCK');
    expectError(await s.post('in', { productId: 99999994, quantity: 1 }), 404, 'NOT_FOUND');
    expectError(await s.post('in', { productId: product.id, quantity: 0 }), 400, 'VALIDATION_FAILED');
    expectError(
      await s.post('adjust', { productId: product.id, delta: 1, reason: 'FOUND' }, { token: s.t.tokens.operator }),
      403,
      'FORBIDDEN',
    );
    await s.expectNothingMoved(before);
  });
});

// ---------------------------------------------------------------- last: the whole ledger

s.ledgerChecks(20); // the levels this file makes: the checks look at every one
