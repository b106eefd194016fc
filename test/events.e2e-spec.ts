/**
 * The contract's event feed (Events and webhooks, v2), on this project's driver: GET /api/events
 * after product, stock and reservation writes — which events, in which order, with which `data` (the
 * write's own answer, or what GET shows) — the low/restocked crossings over all warehouses, nothing for
 * refused writes, paging by `after`, the `type` filter, no gaps while writes commit at once,
 * validation and roles. Webhooks are in webhooks.e2e-spec.ts.
 *
 * The feed shows an event only once the sequencer has placed it, shortly after its commit: tests never
 * sleep, they poll. `since(mark)` makes a sentinel write and waits for it, so every write made before it
 * has been placed, and answers exactly the events in between.
 */
import type { EventView } from '../src/modules/events/events.repository';
import type { ProductDetailView, ProductView } from '../src/modules/products/dto/product.dto';
import type { ReservationView } from '../src/modules/stock/reservations/reservation.views';
import type { LevelView, MovementView } from '../src/modules/stock/stock.views';
import { expectError, expectValidation } from './support/errors';
import { expectIso } from './support/stock';
import { bearer, startTestApp, TestApp } from './support/test-app';
import { waitFor } from './support/wait';

type Json = Record<string, unknown>;
/** An event as the feed answers it; `data` read loosely (its exact shape is what the tests compare). */
type FeedEvent = Omit<EventView, 'data'> & { data: Json };
interface FeedPage {
  items: FeedEvent[];
  nextCursor: string | null;
}
type MovementAnswer = { movement: MovementView; level: LevelView };
type MovementsAnswer = { movements: MovementView[]; levels: LevelView[] };
type ReservationAnswer = { reservation: ReservationView; levels: LevelView[]; movements?: MovementView[] };

const EVENT_KEYS = ['data', 'id', 'occurredAt', 'type'];
const EVENT_TYPES = [
  'stock.movement',
  'stock.low',
  'stock.restocked',
  'reservation.created',
  'reservation.confirmed',
  'reservation.cancelled',
  'reservation.expired',
  'product.created',
  'product.updated',
  'product.archived',
];

/** What a test expects of an event: its type and its data, exactly. */
const movementEvent = (m: MovementView) => ({ type: 'stock.movement', data: m });
const lowEvent = (p: { id: number; sku: string }, available: number, reorderPoint: number) => ({
  type: 'stock.low',
  data: { productId: p.id, sku: p.sku, available, reorderPoint },
});
const restockedEvent = (p: { id: number; sku: string }, available: number, reorderPoint: number) => ({
  type: 'stock.restocked',
  data: { productId: p.id, sku: p.sku, available, reorderPoint },
});
const typeAndData = (events: FeedEvent[]) => events.map(({ type, data }) => ({ type, data }));

function expectEventShape(value: unknown): void {
  const e = value as FeedEvent;
  expect(Object.keys(e).sort()).toEqual(EVENT_KEYS);
  expect(e.id).toMatch(/^\d+$/);
  expect(EVENT_TYPES).toContain(e.type);
  expectIso(e.occurredAt);
  expect(e.data).toEqual(expect.any(Object));
}

/** Ids are digit strings that grow, compared as numbers. */
function expectIncreasingIds(events: FeedEvent[]): void {
  const ids = events.map((e) => BigInt(e.id));
  for (let i = 1; i < ids.length; i++) {
    expect({ at: i, previous: String(ids[i - 1]), id: String(ids[i]), increasing: ids[i] > ids[i - 1] }).toEqual({
      at: i,
      previous: String(ids[i - 1]),
      id: String(ids[i]),
      increasing: true,
    });
  }
}

describe('GET /api/events', () => {
  let t: TestApp;
  let seq = 0;
  const manager = () => bearer(t.tokens.manager);
  const operator = () => bearer(t.tokens.operator);

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  async function page(query: Json, token = t.tokens.manager): Promise<FeedPage> {
    const res = await t.http.get('/api/events').query(query).set(bearer(token));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(Object.keys(res.body as Json).sort()).toEqual(['items', 'nextCursor']);
    const body = res.body as FeedPage;
    body.items.forEach(expectEventShape);
    expect(body.nextCursor === null || typeof body.nextCursor === 'string').toBe(true);
    return body;
  }

  /** Every placed event after `after` (from the oldest without it), 200 a page. */
  async function feedAfter(after?: string): Promise<FeedEvent[]> {
    const items: FeedEvent[] = [];
    let cursor = after;
    for (let pages = 0; pages < 1000; pages++) {
      const p = await page(cursor === undefined ? { limit: 200 } : { after: cursor, limit: 200 });
      items.push(...p.items);
      if (p.items.length < 200) return items;
      cursor = p.nextCursor!;
    }
    throw new Error('the feed does not end');
  }

  /**
   * Everything committed so far, placed (a sentinel product created and waited for): answers the events
   * after `from`, up to and without the sentinel's, and the sentinel's id — a mark to read on from.
   */
  async function settle(from?: string): Promise<{ events: FeedEvent[]; mark: string }> {
    const sku = `SENTINEL-${++seq}`;
    await t.http.post('/api/products').set(manager()).send({ sku, name: 'Sentinel' }).expect(201);
    let events: FeedEvent[] = [];
    const isSentinel = (e: FeedEvent) => e.type === 'product.created' && e.data.sku === sku;
    await waitFor(`the feed shows ${sku}`, async () => {
      events = await feedAfter(from);
      return events.some(isSentinel);
    });
    const at = events.findIndex(isSentinel);
    expect(events.slice(at + 1)).toEqual([]); // nothing committed after the sentinel
    expectIncreasingIds(events);
    return { events: events.slice(0, at), mark: events[at].id };
  }

  /** A mark after every event committed so far. */
  const latest = async () => (await settle()).mark;

  /**
   * The events committed after `mark` by the writes made since, in feed order: every write answered
   * before the sentinel committed before it, so its events are placed before the sentinel's.
   */
  const since = async (mark: string) => (await settle(mark)).events;

  async function product(prefix: string, reorderPoint = 0): Promise<ProductView> {
    const res = await t.http
      .post('/api/products')
      .set(manager())
      .send({ sku: `${prefix}-${++seq}`, name: `Product ${prefix}`, reorderPoint });
    expect(res.status).toBe(201);
    return res.body as ProductView;
  }

  async function warehouse(): Promise<string> {
    const code = `EV_${++seq}`;
    await t.http.post('/api/warehouses').set(manager()).send({ code, name: code }).expect(201);
    return code;
  }

  async function getProduct(id: number): Promise<ProductDetailView> {
    const res = await t.http.get(`/api/products/${id}`).set(manager());
    expect(res.status).toBe(200);
    return res.body as ProductDetailView;
  }

  /** A stock write that must succeed (201); operator, manager for adjust. */
  async function write<T>(route: 'in' | 'out' | 'transfer' | 'batch' | 'adjust', body: Json): Promise<T> {
    const res = await t.http
      .post(`/api/stock/${route}`)
      .set(route === 'adjust' ? manager() : operator())
      .send(body);
    if (res.status !== 201)
      throw new Error(`POST /api/stock/${route} ${JSON.stringify(body)}: ${res.status} ${res.text}`);
    return res.body as T;
  }

  async function reserve(lines: Json[], extra: Json = {}): Promise<ReservationAnswer> {
    const res = await t.http
      .post('/api/stock/reservations')
      .set(operator())
      .send({ lines, ...extra });
    expect(res.status).toBe(201);
    return res.body as ReservationAnswer;
  }

  async function close(id: number, action: 'confirm' | 'cancel'): Promise<ReservationAnswer> {
    const res = await t.http.post(`/api/stock/reservations/${id}/${action}`).set(operator());
    expect(res.status).toBe(action === 'confirm' ? 201 : 200);
    return res.body as ReservationAnswer;
  }

  async function patchProduct(id: number, body: Json): Promise<ProductView> {
    const res = await t.http.patch(`/api/products/${id}`).set(manager()).send(body);
    expect(res.status).toBe(200);
    return res.body as ProductView;
  }

  // runs first: nothing has written an event yet
  it('a feed with no event yet answers {items: [], nextCursor: null}, or the `after` given', async () => {
    expect(await page({})).toEqual({ items: [], nextCursor: null });
    expect(await page({ after: '5', limit: 10 })).toEqual({ items: [], nextCursor: '5' });
  });

  describe('products', () => {
    it('product.created, .updated, .archived: data is the product as GET /api/products/:id shows it', async () => {
      const started = Date.now();
      const mark = await latest();
      // a new product starts low (0 available <= reorderPoint 3) with no stock.low event
      const p = await product('EV-PROD', 3);
      const created = await getProduct(p.id);
      expect(created.stock).toEqual([]);
      await patchProduct(p.id, { name: 'Renamed', description: 'now with a description' });
      const updated = await getProduct(p.id);
      expect(updated.version).toBe(2);
      await t.http.delete(`/api/products/${p.id}`).set(manager()).expect(204);

      const events = await since(mark);
      expect(events.map((e) => e.type)).toEqual(['product.created', 'product.updated', 'product.archived']);
      expect(events[0].data).toEqual(created);
      expect(events[1].data).toEqual(updated);
      // archived: GET answers 404 now; the event still carries the product as it was, archived at updatedAt
      expect(events[2].data).toEqual({ ...updated, updatedAt: expect.any(String) });
      expectIso(events[2].data.updatedAt);
      expect(Date.parse(events[2].data.updatedAt as string)).toBeGreaterThanOrEqual(Date.parse(updated.updatedAt));
      for (const e of events) {
        expect(Date.parse(e.occurredAt)).toBeGreaterThanOrEqual(started - 1000);
        expect(Date.parse(e.occurredAt)).toBeLessThanOrEqual(Date.now() + 1000);
      }
    });

    it('a product with stock in several warehouses: data.stock and onHand as GET shows them', async () => {
      const p = await product('EV-STOCKED');
      const east = await warehouse();
      await write('in', { productId: p.id, quantity: 4 });
      await write('in', { productId: p.id, quantity: 3, warehouse: east });
      const mark = await latest();
      await patchProduct(p.id, { unit: 'box' });
      const shown = await getProduct(p.id);
      expect(shown.onHand).toBe(7);
      expect(shown.stock).toHaveLength(2);
      const events = await since(mark);
      expect(typeAndData(events)).toEqual([{ type: 'product.updated', data: shown }]);
    });

    it('product.archived of a product whose stock went back to 0: its levels as GET showed them last', async () => {
      const p = await product('EV-EMPTIED');
      await write('in', { productId: p.id, quantity: 2 });
      await write('out', { productId: p.id, quantity: 2 });
      const shown = await getProduct(p.id);
      expect(shown.stock).toEqual([{ warehouse: 'MAIN', onHand: 0 }]);
      const mark = await latest();
      await t.http.delete(`/api/products/${p.id}`).set(manager()).expect(204);
      const events = await since(mark);
      expect(typeAndData(events)).toEqual([
        { type: 'product.archived', data: { ...shown, updatedAt: expect.any(String) } },
      ]);
    });
  });

  describe('stock writes', () => {
    it('one stock.movement per movement, data exactly the movement the write answered, in write order', async () => {
      const p = await product('EV-MOVE', 0);
      const east = await warehouse();
      const mark = await latest();

      const received = await write<MovementAnswer>('in', { productId: p.id, quantity: 10, reference: 'PO-7' });
      const shipped = await write<MovementAnswer>('out', { sku: p.sku, quantity: 3, note: 'order 1' });
      const moved = await write<MovementsAnswer>('transfer', { productId: p.id, from: 'MAIN', to: east, quantity: 2 });
      const batch = await write<MovementsAnswer>('batch', {
        type: 'IN',
        reference: 'BATCH-1',
        lines: [
          { productId: p.id, quantity: 1 },
          { productId: p.id, quantity: 2, warehouse: east },
        ],
      });
      const damaged = await write<MovementAnswer>('adjust', {
        productId: p.id,
        warehouse: east,
        delta: -4,
        reason: 'DAMAGE',
      });
      // a count equal to the level: a movement of quantity 0, an event like any other
      const counted = await write<MovementAnswer>('adjust', { productId: p.id, countedQuantity: 6, reason: 'COUNT' });
      expect(counted.movement.quantity).toBe(0);
      const emptied = await write<MovementAnswer>('out', { productId: p.id, quantity: 6 });

      const events = await since(mark);
      expect(typeAndData(events)).toEqual([
        movementEvent(received.movement),
        restockedEvent(p, 10, 0), // 0 available was low (<= 0); 10 is not
        movementEvent(shipped.movement),
        movementEvent(moved.movements[0]),
        movementEvent(moved.movements[1]),
        movementEvent(batch.movements[0]),
        movementEvent(batch.movements[1]),
        movementEvent(damaged.movement),
        movementEvent(counted.movement),
        movementEvent(emptied.movement),
        lowEvent(p, 0, 0),
      ]);
      expect(moved.movements.map((m) => m.type)).toEqual(['TRANSFER_OUT', 'TRANSFER_IN']);

      // the movement events are the ledger: one per movement, the same ids, in id order
      const ledger = await t.http
        .get('/api/stock/movements')
        .query({ productId: p.id, limit: 200 })
        .set(manager())
        .expect(200);
      const ledgerMovements = (ledger.body.items as MovementView[]).reverse();
      const movementEvents = events.filter((e) => e.type === 'stock.movement');
      expect(movementEvents.map((e) => e.data)).toEqual(ledgerMovements);
      const ids = movementEvents.map((e) => e.data.id as number);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('a batch of many lines: one event per movement in the answer`s order, then each crossing product', async () => {
      const a = await product('EV-BATCH-A', 0);
      const b = await product('EV-BATCH-B', 0);
      await write('in', { productId: a.id, quantity: 5 });
      await write('in', { productId: b.id, quantity: 5 });
      const mark = await latest();
      const lines = Array.from({ length: 10 }, (_, i) => ({ productId: i % 2 ? a.id : b.id, quantity: 1 }));
      const batch = await write<MovementsAnswer>('batch', { type: 'OUT', lines });
      expect(batch.movements).toHaveLength(10);
      const events = await since(mark);
      expect(events).toHaveLength(12);
      expect(typeAndData(events.slice(0, 10))).toEqual(batch.movements.map(movementEvent));
      // both products end at 0 available, at their reorderPoint 0: low, once each (their order is not the contract's)
      expect(typeAndData(events.slice(10))).toEqual(expect.arrayContaining([lowEvent(a, 0, 0), lowEvent(b, 0, 0)]));
    });
  });

  describe('stock.low and stock.restocked', () => {
    it('reservations: reserve lowers available (may turn low), cancel raises it, confirm leaves it (no crossing)', async () => {
      const p = await product('EV-RES', 5);
      const mark = await latest();
      const received = await write<MovementAnswer>('in', { productId: p.id, quantity: 10 });
      const r1 = await reserve([{ productId: p.id, quantity: 4 }], { reference: 'ORD-1' }); // 6 available: not low
      const r2 = await reserve([{ sku: p.sku, quantity: 2 }]); // 4 available: low
      const cancelled = await close(r2.reservation.id, 'cancel'); // 6: restocked
      const r3 = await reserve([{ productId: p.id, quantity: 3 }]); // 3: low
      const confirmed = await close(r3.reservation.id, 'confirm'); // on hand 7, reserved 4: still 3 available
      expect(confirmed.levels[0]).toEqual(expect.objectContaining({ onHand: 7, reserved: 4, available: 3 }));
      const released = await close(r1.reservation.id, 'cancel'); // 7: restocked

      const events = await since(mark);
      expect(typeAndData(events)).toEqual([
        movementEvent(received.movement),
        restockedEvent(p, 10, 5),
        { type: 'reservation.created', data: r1.reservation },
        { type: 'reservation.created', data: r2.reservation },
        lowEvent(p, 4, 5),
        { type: 'reservation.cancelled', data: cancelled.reservation },
        restockedEvent(p, 6, 5),
        { type: 'reservation.created', data: r3.reservation },
        lowEvent(p, 3, 5),
        movementEvent(confirmed.movements![0]),
        { type: 'reservation.confirmed', data: confirmed.reservation },
        { type: 'reservation.cancelled', data: released.reservation },
        restockedEvent(p, 7, 5),
      ]);
      // the events' reservations are what GET shows
      const shown = await t.http.get(`/api/stock/reservations/${r3.reservation.id}`).set(operator()).expect(200);
      expect(shown.body).toEqual(confirmed.reservation);
    });

    it('a reservation over two products: its event once, then a crossing for each product that crossed', async () => {
      const a = await product('EV-RES-A', 2);
      const b = await product('EV-RES-B', 2);
      const c = await product('EV-RES-C', 2);
      for (const p of [a, b, c]) await write('in', { productId: p.id, quantity: 4 });
      const mark = await latest();
      const held = await reserve([
        { productId: a.id, quantity: 2 }, // 2 left: low
        { productId: b.id, quantity: 2 }, // 2 left: low
        { productId: c.id, quantity: 1 }, // 3 left: not low
      ]);
      const events = await since(mark);
      expect(events).toHaveLength(3);
      expect(typeAndData(events)[0]).toEqual({ type: 'reservation.created', data: held.reservation });
      expect(typeAndData(events.slice(1))).toEqual(expect.arrayContaining([lowEvent(a, 2, 2), lowEvent(b, 2, 2)]));
    });

    it('expiry releases the hold: reservation.expired (as GET shows it), then stock.restocked', async () => {
      const p = await product('EV-EXP', 2);
      await write('in', { productId: p.id, quantity: 5 });
      const mark = await latest();
      const held = await reserve([{ productId: p.id, quantity: 4 }], { ttlSeconds: 1 }); // 1 available: low
      let expired: ReservationView | undefined;
      await waitFor(
        'the reservation expired',
        async () => {
          const res = await t.http.get(`/api/stock/reservations/${held.reservation.id}`).set(operator()).expect(200);
          expired = res.body as ReservationView;
          return expired.status === 'EXPIRED';
        },
        5000,
      );
      const events = await since(mark);
      expect(typeAndData(events)).toEqual([
        { type: 'reservation.created', data: held.reservation },
        lowEvent(p, 1, 2),
        { type: 'reservation.expired', data: expired },
        restockedEvent(p, 5, 2),
      ]);
    });

    it('counts available over all warehouses: low only when the total is at or below the reorderPoint', async () => {
      const p = await product('EV-TOTAL', 3);
      const east = await warehouse();
      const mark = await latest();
      const first = await write<MovementAnswer>('in', { productId: p.id, quantity: 2 }); // 2 <= 3: still low
      const second = await write<MovementAnswer>('in', { productId: p.id, quantity: 2, warehouse: east }); // 4
      const moved = await write<MovementsAnswer>('transfer', { productId: p.id, from: east, to: 'MAIN', quantity: 2 });
      const third = await write<MovementAnswer>('out', { productId: p.id, quantity: 1 }); // 3: low
      const fourth = await write<MovementAnswer>('out', { productId: p.id, quantity: 1 }); // 2: stays low
      const counted = await write<MovementAnswer>('adjust', { productId: p.id, countedQuantity: 9, reason: 'FOUND' }); // 9
      const events = await since(mark);
      expect(typeAndData(events)).toEqual([
        movementEvent(first.movement),
        movementEvent(second.movement),
        restockedEvent(p, 4, 3),
        movementEvent(moved.movements[0]),
        movementEvent(moved.movements[1]),
        movementEvent(third.movement),
        lowEvent(p, 3, 3),
        movementEvent(fourth.movement),
        movementEvent(counted.movement),
        restockedEvent(p, 9, 3),
      ]);
    });

    it('a reorderPoint change can cross too: product.updated first, then stock.low or stock.restocked', async () => {
      const p = await product('EV-RP', 0);
      await write('in', { productId: p.id, quantity: 5 });
      const mark = await latest();
      await patchProduct(p.id, { reorderPoint: 5 }); // 5 <= 5: low
      const first = await getProduct(p.id);
      await patchProduct(p.id, { reorderPoint: 4 }); // 5 > 4: restocked
      const second = await getProduct(p.id);
      await patchProduct(p.id, { reorderPoint: 3 }); // not low before, not low after
      const third = await getProduct(p.id);
      await patchProduct(p.id, { name: 'Renamed RP' }); // no reorderPoint: no crossing
      const fourth = await getProduct(p.id);
      const events = await since(mark);
      expect(typeAndData(events)).toEqual([
        { type: 'product.updated', data: first },
        lowEvent(p, 5, 5),
        { type: 'product.updated', data: second },
        restockedEvent(p, 5, 4),
        { type: 'product.updated', data: third },
        { type: 'product.updated', data: fourth },
      ]);
    });
  });

  describe('refused writes', () => {
    it('write no event: 409s, 412, 404s and 400s leave the feed as it was; a replay adds nothing', async () => {
      const p = await product('EV-REFUSED', 0);
      const east = await warehouse();
      await write('in', { productId: p.id, quantity: 2 });
      const gone = await reserve([{ productId: p.id, quantity: 1 }]);
      await close(gone.reservation.id, 'cancel');
      const first = await t.http
        .post('/api/stock/in')
        .set(operator())
        .set('Idempotency-Key', 'events-replay-1')
        .send({ productId: p.id, quantity: 1 })
        .expect(201);
      const { events: before, mark } = await settle();

      const refusals: [string, Promise<{ status: number; body: unknown; headers: object }>, number, string][] = [
        [
          'out',
          t.http.post('/api/stock/out').set(operator()).send({ productId: p.id, quantity: 4 }),
          409,
          'INSUFFICIENT_STOCK',
        ],
        [
          'batch',
          t.http
            .post('/api/stock/batch')
            .set(operator())
            .send({
              type: 'OUT',
              lines: [
                { productId: p.id, quantity: 1 },
                { productId: p.id, quantity: 3 },
              ],
            }),
          409,
          'INSUFFICIENT_STOCK',
        ],
        [
          'transfer',
          t.http
            .post('/api/stock/transfer')
            .set(operator())
            .send({ productId: p.id, from: 'MAIN', to: east, quantity: 4 }),
          409,
          'INSUFFICIENT_STOCK',
        ],
        [
          'adjust',
          t.http.post('/api/stock/adjust').set(manager()).send({ productId: p.id, delta: -4, reason: 'LOSS' }),
          409,
          'INSUFFICIENT_STOCK',
        ],
        [
          'reserve',
          t.http
            .post('/api/stock/reservations')
            .set(operator())
            .send({ lines: [{ productId: p.id, quantity: 4 }] }),
          409,
          'INSUFFICIENT_STOCK',
        ],
        [
          'confirm a cancelled reservation',
          t.http.post(`/api/stock/reservations/${gone.reservation.id}/confirm`).set(operator()),
          409,
          'RESERVATION_NOT_ACTIVE',
        ],
        ['archive with stock', t.http.delete(`/api/products/${p.id}`).set(manager()), 409, 'PRODUCT_HAS_STOCK'],
        [
          'stale If-Match',
          t.http.patch(`/api/products/${p.id}`).set(manager()).set('If-Match', '"99"').send({ reorderPoint: 50 }),
          412,
          'VERSION_MISMATCH',
        ],
        [
          'taken SKU',
          t.http.post('/api/products').set(manager()).send({ sku: p.sku.toLowerCase(), name: 'Twin' }),
          409,
          'SKU_TAKEN',
        ],
        [
          'unknown product',
          t.http.post('/api/stock/in').set(operator()).send({ productId: 999999, quantity: 1 }),
          404,
          'NOT_FOUND',
        ],
        [
          'bad quantity',
          t.http.post('/api/stock/in').set(operator()).send({ productId: p.id, quantity: 0 }),
          400,
          'VALIDATION_FAILED',
        ],
        [
          'viewer',
          t.http.post('/api/stock/in').set(bearer(t.tokens.viewer)).send({ productId: p.id, quantity: 1 }),
          403,
          'FORBIDDEN',
        ],
      ];
      for (const [what, request, status, code] of refusals) {
        const res = await request;
        expect({ what, status: res.status }).toEqual({ what, status });
        expectError(res, status, code);
      }
      const replay = await t.http
        .post('/api/stock/in')
        .set(operator())
        .set('Idempotency-Key', 'events-replay-1')
        .send({ productId: p.id, quantity: 1 })
        .expect(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(first.body);

      const { events: after } = await settle(mark);
      expect(after).toEqual([]);
      // and the feed up to the mark is as it was
      expect((await feedAfter()).filter((e) => BigInt(e.id) < BigInt(mark))).toEqual(before);
      expect(await getProduct(p.id)).toEqual(expect.objectContaining({ onHand: 3, version: 1, reorderPoint: 0 }));
    });
  });

  describe('paging', () => {
    it('walks by `after` and `limit`: oldest first, nextCursor the last id even on the last page', async () => {
      // enough events for more than one default page
      const p = await product('EV-PAGE', 0);
      const lines = Array.from({ length: 60 }, () => ({ productId: p.id, quantity: 1 }));
      await write('batch', { type: 'IN', lines });
      await latest();
      const all = await feedAfter();
      expect(all.length).toBeGreaterThan(120);
      expectIncreasingIds(all);
      expect(new Set(all.map((e) => e.id)).size).toBe(all.length);

      // no `after`: from the oldest, 50 by default
      const first = await page({});
      expect(first.items).toEqual(all.slice(0, 50));
      expect(first.nextCursor).toBe(all[49].id);
      expect(await page({ after: '0', limit: 3 })).toEqual({ items: all.slice(0, 3), nextCursor: all[2].id });
      expect((await page({ limit: 200 })).items).toEqual(all.slice(0, 200));
      expect(await page({ limit: 1 })).toEqual({ items: all.slice(0, 1), nextCursor: all[0].id });

      // polling with nextCursor sees each event once, and the last page still names its last id
      const seen: FeedEvent[] = [];
      let cursor: string | undefined;
      let last: FeedPage | undefined;
      for (let pages = 0; pages < 200; pages++) {
        const got = await page(cursor === undefined ? { limit: 7 } : { after: cursor, limit: 7 });
        expect(got.items.length).toBeLessThanOrEqual(7);
        if (!got.items.length) {
          expect(got.nextCursor).toBe(cursor); // an empty page: the `after` given
          break;
        }
        expect(got.nextCursor).toBe(got.items[got.items.length - 1].id);
        seen.push(...got.items);
        cursor = got.nextCursor!;
        last = got;
      }
      expect(seen).toEqual(all);
      expect(last!.items.length).toBeGreaterThan(0);
      expect(last!.nextCursor).toBe(all[all.length - 1].id);

      // after the newest: an empty page that hands the `after` back; after an id not handed out yet too
      const newest = all[all.length - 1].id;
      expect(await page({ after: newest })).toEqual({ items: [], nextCursor: newest });
      const ahead = String(BigInt(newest) + 1000n);
      expect(await page({ after: ahead, limit: 5 })).toEqual({ items: [], nextCursor: ahead });
      // from the middle
      expect(await page({ after: all[9].id, limit: 4 })).toEqual({ items: all.slice(10, 14), nextCursor: all[13].id });
    });

    it('`type` keeps one type; it pages by `after` the same way', async () => {
      const all = await feedAfter();
      for (const type of ['stock.movement', 'stock.low', 'stock.restocked', 'product.created', 'reservation.created']) {
        const expected = all.filter((e) => e.type === type);
        expect({ type, some: expected.length > 0 }).toEqual({ type, some: true });
        const seen: FeedEvent[] = [];
        let cursor: string | undefined;
        for (let pages = 0; pages < 100; pages++) {
          const got = await page(cursor === undefined ? { type, limit: 4 } : { type, after: cursor, limit: 4 });
          if (!got.items.length) {
            expect(got.nextCursor).toBe(cursor ?? null);
            break;
          }
          expect(got.nextCursor).toBe(got.items[got.items.length - 1].id);
          seen.push(...got.items);
          cursor = got.nextCursor!;
        }
        expect(seen).toEqual(expected);
      }
      // type and after together: only that type, only after it
      const restocks = all.filter((e) => e.type === 'stock.restocked');
      expect(await page({ type: 'stock.restocked', after: restocks[0].id, limit: 1 })).toEqual({
        items: [restocks[1]],
        nextCursor: restocks[1].id,
      });
      expect(await page({ type: 'product.archived', after: all[all.length - 1].id })).toEqual({
        items: [],
        nextCursor: all[all.length - 1].id,
      });
    });

    it('no gaps, no repeats: a client polling with nextCursor while writes commit at once sees each event once', async () => {
      const products = [await product('EV-RACE', 0), await product('EV-RACE', 0), await product('EV-RACE', 0)];
      const start = await latest();
      const seen: FeedEvent[] = [];
      let writing = true;
      const poll = (async () => {
        let cursor = start;
        while (writing) {
          const got = await page({ after: cursor, limit: 200 });
          seen.push(...got.items);
          cursor = got.nextCursor!;
        }
      })();
      let answers: MovementAnswer[] = [];
      try {
        answers = await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            write<MovementAnswer>('in', { productId: products[i % 3].id, quantity: 1 + (i % 4) }),
          ),
        );
        const wanted = new Set(answers.map((a) => a.movement.id));
        await waitFor('the poller saw every movement', () => {
          const got = new Set(seen.filter((e) => e.type === 'stock.movement').map((e) => e.data.id as number));
          return [...wanted].every((id) => got.has(id));
        });
      } finally {
        writing = false;
        await poll;
      }
      expectIncreasingIds(seen);
      const written = await feedAfter(start);
      expect(seen).toEqual(written.slice(0, seen.length));
      const movements = seen.filter((e) => e.type === 'stock.movement').map((e) => e.data);
      expect(movements).toHaveLength(40);
      expect(new Set(movements.map((m) => m.id)).size).toBe(40);
      for (const answer of answers) expect(movements).toContainEqual(answer.movement);
      // one restocked each: 0 was low (reorderPoint 0), the first receipt lifted it
      expect(
        seen
          .filter((e) => e.type === 'stock.restocked')
          .map((e) => e.data.productId)
          .sort(),
      ).toEqual(products.map((p) => p.id).sort());
    });
  });

  describe('validation and roles', () => {
    it('400 VALIDATION_FAILED for a bad after, type or limit, and for unknown query parameters', async () => {
      const bad: [Json, string][] = [
        [{ after: 'abc' }, 'after'],
        [{ after: '-1' }, 'after'],
        [{ after: '1.5' }, 'after'],
        [{ after: '0x10' }, 'after'],
        [{ type: 'stock.nope' }, 'type'],
        [{ type: 'STOCK.LOW' }, 'type'],
        [{ type: '*' }, 'type'],
        [{ limit: '0' }, 'limit'],
        [{ limit: '201' }, 'limit'],
        [{ limit: '1.5' }, 'limit'],
        [{ limit: 'ten' }, 'limit'],
        [{ foo: '1' }, 'foo'],
        [{ cursor: 'abc' }, 'cursor'], // the feed pages by `after`, not by cursor
      ];
      for (const [query, field] of bad) {
        const res = await t.http.get('/api/events').query(query).set(manager());
        expect({ query, status: res.status }).toEqual({ query, status: 400 });
        expectValidation(res, [field]);
      }
    });

    it('manager and admin read the feed; viewer, operator and monitor 403; no or a bad token 401', async () => {
      for (const role of ['manager', 'admin'] as const) await page({ limit: 1 }, t.tokens[role]);
      for (const role of ['viewer', 'operator', 'monitor'] as const) {
        expectError(await t.http.get('/api/events').set(bearer(t.tokens[role])), 403, 'FORBIDDEN');
      }
      expectError(await t.http.get('/api/events'), 401, 'UNAUTHORIZED');
      expectError(await t.http.get('/api/events').set(bearer('not-a-token')), 401, 'UNAUTHORIZED');
      const res = await t.http.get('/api/events').set(manager()).expect(200);
      expect(res.headers['cache-control']).toBe('no-store');
    });
  });
});
