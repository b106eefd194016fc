/**
 * The contract's Reservations section, route by route, on this project's driver: the shapes, holds on
 * `reserved`/`available`, confirm and cancel, refusals, expiry (including a confirm that arrives after
 * expiresAt before the sweep), Idempotency-Key, the audit trail, metrics, read filters and reconcile.
 * Concurrency across processes and kills mid-sweep are in reservations-concurrency.e2e-spec.ts.
 */
import { jest } from '@jest/globals';
import { ReservationExpiry } from '../src/modules/stock/reservations/reservation-expiry.service';
import type { ReservationView } from '../src/modules/stock/reservations/reservation.views';
import type { LevelView, MovementView } from '../src/modules/stock/stock.views';
import { expectError, expectNotFound, expectValidation } from './support/errors';
import { expectIso, expectLevel, expectMovement } from './support/stock';
import { bearer, startTestApp, TestApp } from './support/test-app';
import { waitFor } from './support/wait';

type Json = Record<string, unknown>;
const RESERVATION_KEYS = [
  'closedAt',
  'createdAt',
  'createdBy',
  'expiresAt',
  'id',
  'lines',
  'note',
  'reference',
  'status',
];

function expectReservation(value: unknown, expected: Partial<ReservationView> = {}): void {
  const r = value as ReservationView;
  expect(Object.keys(r).sort()).toEqual(RESERVATION_KEYS);
  expect(Number.isSafeInteger(r.id) && r.id > 0).toBe(true);
  expect(['ACTIVE', 'CONFIRMED', 'CANCELLED', 'EXPIRED']).toContain(r.status);
  for (const line of r.lines) expect(Object.keys(line).sort()).toEqual(['productId', 'quantity', 'sku', 'warehouse']);
  expectIso(r.expiresAt);
  expectIso(r.createdAt);
  expect(Object.keys(r.createdBy).sort()).toEqual(['id', 'username']);
  if (r.status === 'ACTIVE') expect(r.closedAt).toBeNull();
  else expectIso(r.closedAt);
  expect(r).toEqual(expect.objectContaining(expected));
}

describe('reservations', () => {
  let t: TestApp;
  let seq = 0;
  const operator = () => bearer(t.tokens.operator);

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  /** A product with `onHand` in MAIN (and a fresh SKU). */
  async function product(onHand: number, warehouse = 'MAIN'): Promise<{ id: number; sku: string }> {
    const sku = `RES-${++seq}`;
    const res = await t.http
      .post('/api/products')
      .set(bearer(t.tokens.manager))
      .send({ sku, name: `Reserved ${seq}` });
    expect(res.status).toBe(201);
    if (onHand) {
      await t.http.post('/api/stock/in').set(operator()).send({ sku, quantity: onHand, warehouse }).expect(201);
    }
    return { id: res.body.id as number, sku };
  }

  const reserve = (body: Json, key?: string) => {
    const req = t.http.post('/api/stock/reservations').set(operator());
    if (key) void req.set('Idempotency-Key', key);
    return req.send(body);
  };
  const act = (id: number, action: 'confirm' | 'cancel', key?: string) => {
    const req = t.http.post(`/api/stock/reservations/${id}/${action}`).set(operator());
    if (key) void req.set('Idempotency-Key', key);
    return req;
  };
  const level = async (productId: number, warehouse = 'MAIN'): Promise<LevelView> => {
    const res = await t.http.get('/api/stock').query({ productId, warehouse }).set(operator()).expect(200);
    return res.body.items[0] as LevelView;
  };

  describe('POST /api/stock/reservations', () => {
    it('holds the lines without moving stock: 201 {reservation, levels} with reserved and available', async () => {
      const p = await product(10);
      const before = await t.http.get('/api/stock/movements').query({ productId: p.id }).set(operator());
      const res = await reserve({ lines: [{ sku: p.sku, quantity: 4 }], reference: 'ORD-1', note: 'gift wrap' });
      expect(res.status).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(['levels', 'reservation']);
      expectReservation(res.body.reservation, {
        status: 'ACTIVE',
        reference: 'ORD-1',
        note: 'gift wrap',
        lines: [{ productId: p.id, sku: p.sku, warehouse: 'MAIN', quantity: 4 }],
        closedAt: null,
      });
      const { createdAt, expiresAt, createdBy } = res.body.reservation as ReservationView;
      expect(Date.parse(expiresAt) - Date.parse(createdAt)).toBe(900_000); // ttlSeconds defaults to 900
      expect(createdBy.username).toBe('operator-user');
      expect(res.body.levels).toHaveLength(1);
      expectLevel(res.body.levels[0], { productId: p.id, warehouse: 'MAIN', onHand: 10, reserved: 4, available: 6 });
      expect(await level(p.id)).toEqual(expect.objectContaining({ onHand: 10, reserved: 4, available: 6 }));
      const after = await t.http.get('/api/stock/movements').query({ productId: p.id }).set(operator());
      expect(after.body.items).toEqual(before.body.items); // nothing moved
    });

    it('checks available stock, lines on one level summed: all or nothing, every short line listed', async () => {
      const a = await product(5);
      const b = await product(2);
      await reserve({ lines: [{ productId: a.id, quantity: 2 }] }).expect(201); // a: 3 available
      const res = await reserve({
        lines: [
          { productId: a.id, quantity: 2 },
          { sku: b.sku, quantity: 3 },
          { productId: a.id, quantity: 2 },
        ],
      });
      expectError(res, 409, 'INSUFFICIENT_STOCK');
      expect(res.body.details.lines).toEqual([
        { productId: a.id, warehouse: 'MAIN', requested: 4, available: 3 },
        { productId: b.id, warehouse: 'MAIN', requested: 3, available: 2 },
      ]);
      expect(await level(a.id)).toEqual(expect.objectContaining({ reserved: 2, available: 3 }));
      expect(await level(b.id)).toEqual(expect.objectContaining({ reserved: 0, available: 2 }));
    });

    it('takes ttlSeconds 1..604800 and refuses bad bodies with 400, holding nothing', async () => {
      const p = await product(3);
      const ok = await reserve({ lines: [{ productId: p.id, quantity: 1 }], ttlSeconds: 604800 });
      expect(ok.status).toBe(201);
      const { createdAt, expiresAt } = ok.body.reservation as ReservationView;
      expect(Date.parse(expiresAt) - Date.parse(createdAt)).toBe(604_800_000);
      for (const [body, field] of [
        [{ lines: [{ productId: p.id, quantity: 1 }], ttlSeconds: 0 }, 'ttlSeconds'],
        [{ lines: [{ productId: p.id, quantity: 1 }], ttlSeconds: 604801 }, 'ttlSeconds'],
        [{ lines: [] }, 'lines'],
        [{ lines: [[]] }, 'lines'],
        [{ lines: Array.from({ length: 101 }, () => ({ productId: p.id, quantity: 1 })) }, 'lines'],
        [{ lines: [{ productId: p.id, quantity: 0 }] }, 'lines.0.quantity'],
        [{ lines: [{ productId: p.id, sku: p.sku, quantity: 1 }] }, 'lines.0.productId'],
        [{ lines: [{ productId: p.id, quantity: 1 }], reference: 'r'.repeat(129) }, 'reference'],
        [{ lines: [{ productId: p.id, quantity: 1 }], status: 'CONFIRMED' }, 'status'],
      ] as [Json, string][]) {
        expectValidation(await reserve(body), [field]);
      }
      expect(await level(p.id)).toEqual(expect.objectContaining({ reserved: 1 }));
    });

    it('404 for an unknown or archived product or warehouse, naming it', async () => {
      expectNotFound(await reserve({ lines: [{ sku: 'NO-SUCH-SKU', quantity: 1 }] }), 'NO-SUCH-SKU');
      expectNotFound(await reserve({ lines: [{ productId: 999999, quantity: 1 }] }), 999999);
      const p = await product(1);
      expectNotFound(await reserve({ lines: [{ productId: p.id, quantity: 1, warehouse: 'NOWHERE' }] }), 'NOWHERE');
    });
  });

  describe('holds and the other stock writes', () => {
    it('out, transfer and batch OUT take only available stock; in and adjust are not held back', async () => {
      const p = await product(10);
      await t.http
        .post('/api/warehouses')
        .set(bearer(t.tokens.manager))
        .send({ code: 'RES_EAST', name: 'E' })
        .expect(201);
      await reserve({ lines: [{ productId: p.id, quantity: 7 }] }).expect(201);
      const out = await t.http.post('/api/stock/out').set(operator()).send({ productId: p.id, quantity: 4 });
      expectError(out, 409, 'INSUFFICIENT_STOCK');
      expect(out.body.details.lines).toEqual([{ productId: p.id, warehouse: 'MAIN', requested: 4, available: 3 }]);
      const transfer = await t.http
        .post('/api/stock/transfer')
        .set(operator())
        .send({ productId: p.id, from: 'MAIN', to: 'RES_EAST', quantity: 4 });
      expectError(transfer, 409, 'INSUFFICIENT_STOCK');
      const batch = await t.http
        .post('/api/stock/batch')
        .set(operator())
        .send({ type: 'OUT', lines: [{ productId: p.id, quantity: 4 }] });
      expectError(batch, 409, 'INSUFFICIENT_STOCK');
      await t.http.post('/api/stock/out').set(operator()).send({ productId: p.id, quantity: 3 }).expect(201);
      expect(await level(p.id)).toEqual(expect.objectContaining({ onHand: 7, reserved: 7, available: 0 }));
      // a count that finds less than is held: available goes below 0, and out is refused
      const count = await t.http
        .post('/api/stock/adjust')
        .set(bearer(t.tokens.manager))
        .send({ productId: p.id, countedQuantity: 5, reason: 'COUNT' });
      expect(count.status).toBe(201);
      expectLevel(count.body.level, { onHand: 5, reserved: 7, available: -2 } as Partial<LevelView>);
      expectError(
        await t.http.post('/api/stock/out').set(operator()).send({ productId: p.id, quantity: 1 }),
        409,
        'INSUFFICIENT_STOCK',
      );
    });

    it('a product with reserved stock cannot be archived (409 PRODUCT_HAS_STOCK)', async () => {
      const p = await product(2);
      const held = await reserve({ lines: [{ productId: p.id, quantity: 2 }] }).expect(201);
      await t.http
        .post('/api/stock/adjust')
        .set(bearer(t.tokens.manager))
        .send({ productId: p.id, countedQuantity: 0, reason: 'COUNT' })
        .expect(201);
      expectError(await t.http.delete(`/api/products/${p.id}`).set(bearer(t.tokens.manager)), 409, 'PRODUCT_HAS_STOCK');
      await act(held.body.reservation.id as number, 'cancel').expect(200);
      await t.http.delete(`/api/products/${p.id}`).set(bearer(t.tokens.manager)).expect(204);
    });
  });

  describe('confirm and cancel', () => {
    it('confirm: one OUT movement per line (reference, note "reservation <id>"), CONFIRMED, hold released, in one go', async () => {
      const a = await product(10);
      const b = await product(5);
      const created = await reserve({
        lines: [
          { productId: a.id, quantity: 3 },
          { sku: b.sku, quantity: 2 },
        ],
        reference: 'ORD-9',
      }).expect(201);
      const id = created.body.reservation.id as number;
      const res = await act(id, 'confirm');
      expect(res.status).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(['levels', 'movements', 'reservation']);
      expectReservation(res.body.reservation, { id, status: 'CONFIRMED' });
      const movements = res.body.movements as MovementView[];
      expect(movements).toHaveLength(2);
      movements.forEach((m, i) =>
        expectMovement(m, {
          type: 'OUT',
          productId: [a.id, b.id][i],
          quantity: [-3, -2][i],
          balanceAfter: [7, 3][i],
          reference: 'ORD-9',
          note: `reservation ${id}`,
        }),
      );
      expectLevel(res.body.levels[0], { productId: a.id, onHand: 7, reserved: 0, available: 7 });
      expectLevel(res.body.levels[1], { productId: b.id, onHand: 3, reserved: 0, available: 3 });
      // the answer's movements are the ledger's
      const ledger = await t.http.get('/api/stock/movements').query({ productId: a.id, type: 'OUT' }).set(operator());
      expect(ledger.body.items[0]).toEqual(movements[0]);
      const got = await t.http.get(`/api/stock/reservations/${id}`).set(operator()).expect(200);
      expect(got.body).toEqual(res.body.reservation);
    });

    it('cancel: 200, CANCELLED, hold released, nothing moved', async () => {
      const p = await product(4);
      const created = await reserve({ lines: [{ productId: p.id, quantity: 4 }] }).expect(201);
      const res = await act(created.body.reservation.id as number, 'cancel');
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['levels', 'reservation']);
      expectReservation(res.body.reservation, { status: 'CANCELLED' });
      expectLevel(res.body.levels[0], { onHand: 4, reserved: 0, available: 4 });
      const movements = await t.http.get('/api/stock/movements').query({ productId: p.id }).set(operator());
      expect(movements.body.items.map((m: MovementView) => m.type)).toEqual(['IN']);
    });

    it('a reservation that is not ACTIVE: 409 RESERVATION_NOT_ACTIVE with its status; an unknown id: 404', async () => {
      const p = await product(4);
      const a = (await reserve({ lines: [{ productId: p.id, quantity: 1 }] }).expect(201)).body.reservation
        .id as number;
      const b = (await reserve({ lines: [{ productId: p.id, quantity: 1 }] }).expect(201)).body.reservation
        .id as number;
      await act(a, 'confirm').expect(201);
      await act(b, 'cancel').expect(200);
      for (const [id, action, status] of [
        [a, 'confirm', 'CONFIRMED'],
        [a, 'cancel', 'CONFIRMED'],
        [b, 'confirm', 'CANCELLED'],
        [b, 'cancel', 'CANCELLED'],
      ] as const) {
        const res = await act(id, action);
        expectError(res, 409, 'RESERVATION_NOT_ACTIVE');
        expect(res.body.details).toEqual({ status });
      }
      expectNotFound(await act(999999, 'confirm'), 999999);
      expectNotFound(await t.http.get('/api/stock/reservations/999999').set(operator()), 999999);
      expectValidation(await act(a, 'confirm').send({ force: true }), ['force']);
      expect(await level(p.id)).toEqual(expect.objectContaining({ onHand: 3, reserved: 0 }));
    });

    it('confirm refused when on-hand no longer covers a line (a count found less): 409 with the lines, nothing changes', async () => {
      const p = await product(5);
      const id = (await reserve({ lines: [{ productId: p.id, quantity: 4 }] }).expect(201)).body.reservation
        .id as number;
      await t.http
        .post('/api/stock/adjust')
        .set(bearer(t.tokens.manager))
        .send({ productId: p.id, countedQuantity: 3, reason: 'COUNT' })
        .expect(201);
      const res = await act(id, 'confirm');
      expectError(res, 409, 'INSUFFICIENT_STOCK');
      expect(res.body.details.lines).toEqual([{ productId: p.id, warehouse: 'MAIN', requested: 4, available: 3 }]);
      const got = await t.http.get(`/api/stock/reservations/${id}`).set(operator()).expect(200);
      expect(got.body.status).toBe('ACTIVE');
      expect(await level(p.id)).toEqual(expect.objectContaining({ onHand: 3, reserved: 4, available: -1 }));
    });
  });

  describe('expiry', () => {
    it('turns EXPIRED within 2 s of expiresAt, releases the hold, and is audited without an actor', async () => {
      const p = await product(3);
      const created = await reserve({ lines: [{ productId: p.id, quantity: 2 }], ttlSeconds: 1 }).expect(201);
      const { id, expiresAt } = created.body.reservation as ReservationView;
      let seen: ReservationView | undefined;
      await waitFor('the reservation expired', async () => {
        seen = (await t.http.get(`/api/stock/reservations/${id}`).set(operator())).body as ReservationView;
        return seen.status === 'EXPIRED';
      });
      expect(Date.parse(seen!.closedAt!) - Date.parse(expiresAt)).toBeLessThanOrEqual(2000);
      expect(Date.parse(seen!.closedAt!)).toBeGreaterThanOrEqual(Date.parse(expiresAt));
      expect(await level(p.id)).toEqual(expect.objectContaining({ onHand: 3, reserved: 0, available: 3 }));
      const audit = await t.http
        .get('/api/audit-logs')
        .query({ action: 'stock.reservation.expire', entityType: 'reservation', entityId: String(id) })
        .set(bearer(t.tokens.manager))
        .expect(200);
      expect(audit.body.items).toHaveLength(1);
      expect(audit.body.items[0]).toEqual(
        expect.objectContaining({ actor: { id: null, username: null, role: null }, entityType: 'reservation' }),
      );
      expectError(await act(id, 'confirm'), 409, 'RESERVATION_NOT_ACTIVE');
    });

    it('a confirm after expiresAt is refused EXPIRED even before the sweep has run', async () => {
      const p = await product(3);
      const created = await reserve({ lines: [{ productId: p.id, quantity: 1 }], ttlSeconds: 1 }).expect(201);
      const { id, expiresAt } = created.body.reservation as ReservationView;
      // keep this instance's sweep from running, so only the confirm's own check can refuse it
      const expiry = t.app.get(ReservationExpiry);
      const sweep = jest.spyOn(expiry, 'sweep').mockResolvedValue(0);
      try {
        await waitFor('expiresAt passed', () => Date.now() > Date.parse(expiresAt) + 20);
        const res = await act(id, 'confirm');
        expectError(res, 409, 'RESERVATION_NOT_ACTIVE');
        expect(res.body.details).toEqual({ status: 'EXPIRED' });
        expectError(await act(id, 'cancel'), 409, 'RESERVATION_NOT_ACTIVE');
        expect(await level(p.id)).toEqual(expect.objectContaining({ onHand: 3 }));
      } finally {
        sweep.mockRestore();
      }
    });
  });

  describe('Idempotency-Key', () => {
    it('replays create, confirm and cancel with Idempotent-Replayed: true and holds or moves nothing twice', async () => {
      const p = await product(6);
      const body = { lines: [{ productId: p.id, quantity: 2 }] };
      const first = await reserve(body, 'res-key-1').expect(201);
      const again = await reserve(body, 'res-key-1').expect(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);
      expect(await level(p.id)).toEqual(expect.objectContaining({ reserved: 2 }));
      expectError(
        await reserve({ lines: [{ productId: p.id, quantity: 3 }] }, 'res-key-1'),
        422,
        'IDEMPOTENCY_KEY_REUSED',
      );

      const id = first.body.reservation.id as number;
      const confirmed = await act(id, 'confirm', 'res-key-2').expect(201);
      const replay = await act(id, 'confirm', 'res-key-2').expect(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(confirmed.body);
      const outs = await t.http.get('/api/stock/movements').query({ productId: p.id, type: 'OUT' }).set(operator());
      expect(outs.body.items).toHaveLength(1);
      // the same key on another reservation is another request
      const other = (await reserve(body).expect(201)).body.reservation.id as number;
      expectError(await act(other, 'confirm', 'res-key-2'), 422, 'IDEMPOTENCY_KEY_REUSED');

      const cancelled = await act(other, 'cancel', 'res-key-3').expect(200);
      const cancelReplay = await act(other, 'cancel', 'res-key-3');
      expect({ status: cancelReplay.status, replayed: cancelReplay.headers['idempotent-replayed'] }).toEqual({
        status: 200,
        replayed: 'true',
      });
      expect(cancelReplay.body).toEqual(cancelled.body);
      // a first refusal is an answer too
      const refused = await act(other, 'confirm', 'res-key-4');
      expectError(refused, 409, 'RESERVATION_NOT_ACTIVE');
      expect((await act(other, 'confirm', 'res-key-4')).body).toEqual(refused.body);
    });
  });

  describe('reads', () => {
    it('lists newest first, filtered by status, product (id or SKU, archived too) and reference, paged', async () => {
      const p = await product(10);
      const ids: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await reserve({ lines: [{ productId: p.id, quantity: 1 }], reference: `LIST-${i % 2}` });
        ids.push(res.body.reservation.id as number);
      }
      await act(ids[0], 'cancel').expect(200);
      const list = (query: Json) => t.http.get('/api/stock/reservations').query(query).set(bearer(t.tokens.viewer));
      expect((await list({ productId: p.id })).body.items.map((r: ReservationView) => r.id)).toEqual(
        [...ids].reverse(),
      );
      expect(
        (await list({ sku: p.sku.toLowerCase(), status: 'ACTIVE' })).body.items.map((r: ReservationView) => r.id),
      ).toEqual([ids[2], ids[1]]);
      expect(
        (await list({ productId: p.id, reference: 'LIST-0' })).body.items.map((r: ReservationView) => r.id),
      ).toEqual([ids[2], ids[0]]);
      const page1 = await list({ productId: p.id, limit: 2 });
      expect(page1.body.items).toHaveLength(2);
      const page2 = await list({ productId: p.id, limit: 2, cursor: page1.body.nextCursor });
      expect(page2.body).toEqual({ items: [expect.objectContaining({ id: ids[0] })], nextCursor: null });
      for (const item of page1.body.items) expectReservation(item);
      expectValidation(await list({ status: 'OPEN' }), ['status']);
      expectNotFound(await list({ sku: 'NEVER-THERE' }), 'NEVER-THERE');
      // an archived product's reservations stay readable
      for (const id of ids.slice(1)) await act(id, 'cancel').expect(200);
      await t.http.post('/api/stock/out').set(operator()).send({ productId: p.id, quantity: 10 }).expect(201);
      await t.http.delete(`/api/products/${p.id}`).set(bearer(t.tokens.manager)).expect(204);
      expect((await list({ productId: p.id })).body.items).toHaveLength(3);
    });
  });

  describe('audit, metrics and reconcile', () => {
    it('audits stock.reserve, stock.reservation.confirm and .cancel on the reservation, with before and after', async () => {
      const p = await product(4);
      const id = (await reserve({ lines: [{ productId: p.id, quantity: 1 }] }).expect(201)).body.reservation
        .id as number;
      await act(id, 'confirm').expect(201);
      const other = (await reserve({ lines: [{ productId: p.id, quantity: 1 }] }).expect(201)).body.reservation
        .id as number;
      await act(other, 'cancel').expect(200);
      const entries = async (entityId: number) =>
        (
          await t.http
            .get('/api/audit-logs')
            .query({ entityType: 'reservation', entityId: String(entityId) })
            .set(bearer(t.tokens.manager))
            .expect(200)
        ).body.items as { action: string; before: Json | null; after: Json; actor: Json }[];
      const first = await entries(id);
      expect(first.map((e) => e.action)).toEqual(['stock.reservation.confirm', 'stock.reserve']);
      expect(first[1].before).toBeNull();
      expect(first[1].after).toEqual({ reservation: expect.objectContaining({ id, status: 'ACTIVE' }) });
      expect(first[0].before).toEqual(expect.objectContaining({ id, status: 'ACTIVE' }));
      expect(first[0].after).toEqual({
        reservation: expect.objectContaining({ id, status: 'CONFIRMED' }),
        movements: [expect.objectContaining({ type: 'OUT', quantity: -1 })],
      });
      expect(first[0].actor).toEqual(expect.objectContaining({ username: 'operator-user', role: 'operator' }));
      expect((await entries(other)).map((e) => e.action)).toEqual(['stock.reservation.cancel', 'stock.reserve']);
    });

    it('counts outcomes in inventory_reservations_total', async () => {
      const text = (await t.http.get('/metrics').set(bearer(t.tokens.monitor)).expect(200)).text;
      for (const outcome of ['created', 'confirmed', 'cancelled', 'expired', 'rejected']) {
        expect(text).toMatch(new RegExp(`^inventory_reservations_total\\{outcome="${outcome}"\\} [1-9]\\d*$`, 'm'));
      }
    });

    it('reconciles reserved against the ACTIVE lines: clean, and a tampered level is reported with reservedSum', async () => {
      const clean = await t.http.get('/api/stock/reconcile').set(bearer(t.tokens.manager)).expect(200);
      expect(clean.body.mismatches).toEqual([]);
      const p = await product(5);
      await reserve({ lines: [{ productId: p.id, quantity: 2 }] }).expect(201);
      await t.dataSource.query('UPDATE stock_levels SET reserved = 3 WHERE product_id = ?', [p.id]);
      const res = await t.http.get('/api/stock/reconcile').set(bearer(t.tokens.manager)).expect(200);
      expect(res.body.mismatches).toEqual([
        {
          productId: p.id,
          warehouse: 'MAIN',
          onHand: 5,
          ledgerSum: 5,
          firstBadMovementId: null,
          reserved: 3,
          reservedSum: 2,
        },
      ]);
      await t.dataSource.query('UPDATE stock_levels SET reserved = 2 WHERE product_id = ?', [p.id]);
    });
  });
});
