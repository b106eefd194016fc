import type { Response } from 'supertest';
import { IdempotencyKey } from '../src/modules/stock/entities/idempotency-key.entity';
import { IdempotencyService } from '../src/modules/stock/idempotency.service';
import { expectError, expectNotFound, expectValidation, expectValidationOneOf } from './support/errors';
import { Json, MAX_LEVEL, StockRoute, expectMovement, stockSuite } from './support/stock';
import { bearer } from './support/test-app';

/**
 * Idempotency-Key on every stock POST: the first answer kept and replayed, per user and route.
 * Over HTTP on this jest project's driver, one app for the file (support/stock.ts).
 */
const s = stockSuite();

// ---------------------------------------------------------------- idempotency

describe('Idempotency-Key', () => {
  /** A key nobody used yet. */
  const newKey = () => `key-${s.next()}-${Math.random().toString(36).slice(2)}`;

  /** The replay of a first answer: same status and body, Idempotent-Replayed: true, nothing moved. */
  async function expectReplay(first: Response, route: StockRoute, body: unknown, key: string, token?: string) {
    const before = await s.snapshot();
    const again = await s.post(route, body, { key, token });
    expect({ route, status: again.status }).toEqual({ route, status: first.status });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(again.headers['content-type']).toMatch(/^application\/json/);
    expect(typeof again.headers['x-request-id']).toBe('string');
    await s.expectNothingMoved(before);
    return again;
  }

  it('every stock POST: the same key, user, route and body replays the first 201 and moves nothing again', async () => {
    const product = await s.createProduct('Idem-201');
    const w = await s.createWarehouse('IDEM');
    await s.stockIn(product.id, 50);
    const cases: [StockRoute, Json][] = [
      ['in', { productId: product.id, quantity: 3, reference: 'R' }],
      ['out', { sku: product.sku, quantity: 2 }],
      ['adjust', { productId: product.id, delta: -1, reason: 'LOSS' }],
      ['transfer', { productId: product.id, from: 'MAIN', to: w, quantity: 4 }],
      [
        'batch',
        {
          type: 'OUT',
          lines: [
            { productId: product.id, quantity: 1 },
            { productId: product.id, quantity: 1 },
          ],
        },
      ],
    ];
    for (const [route, body] of cases) {
      const key = newKey();
      const before = await s.snapshot();
      const first = await s.post(route, body, { key });
      expect({ route, status: first.status }).toEqual({ route, status: 201 });
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      const moved = await s.snapshot();
      expect(moved.movements).toBeGreaterThan(before.movements);
      const levelAfterFirst = await s.onHand(product.id);
      await expectReplay(first, route, body, key);
      await expectReplay(first, route, body, key);
      expect(await s.onHand(product.id)).toBe(levelAfterFirst);
    }
    expect(await s.onHand(product.id)).toBe(50 + 3 - 2 - 1 - 4 - 2);
    expect(await s.onHand(product.id, w)).toBe(4);
  });

  it('a first 409 is kept too: replayed even once there is enough stock, and nothing moves', async () => {
    const product = await s.createProduct('Idem-409');
    const w = await s.createWarehouse('IDEM409');
    await s.stockIn(product.id, 1);
    const cases: [StockRoute, Json][] = [
      ['out', { productId: product.id, quantity: 5 }],
      ['adjust', { productId: product.id, delta: -5, reason: 'LOSS' }],
      ['transfer', { productId: product.id, from: 'MAIN', to: w, quantity: 5 }],
      ['batch', { type: 'OUT', lines: [{ productId: product.id, quantity: 5 }] }],
    ];
    const firsts: [StockRoute, Json, string, Response][] = [];
    for (const [route, body] of cases) {
      const key = newKey();
      const before = await s.snapshot();
      const first = await s.post(route, body, { key });
      expectError(first, 409, 'INSUFFICIENT_STOCK');
      await s.expectNothingMoved(before);
      await expectReplay(first, route, body, key);
      firsts.push([route, body, key, first]);
    }
    // now there is enough: the key still answers the first 409, and still nothing moves
    await s.stockIn(product.id, 100);
    for (const [route, body, key, first] of firsts) {
      const again = await expectReplay(first, route, body, key);
      expect(again.body.code).toBe('INSUFFICIENT_STOCK');
    }
    expect(await s.onHand(product.id)).toBe(101);

    // in: a first 409 QUANTITY_OUT_OF_RANGE likewise
    const full = await s.createProduct('Idem-409-Max');
    await s.ok('adjust', { productId: full.id, countedQuantity: MAX_LEVEL, reason: 'COUNT' });
    const key = newKey();
    const first = await s.post('in', { productId: full.id, quantity: 1 }, { key });
    expectError(first, 409, 'QUANTITY_OUT_OF_RANGE');
    await s.ok('out', { productId: full.id, quantity: 10 });
    await expectReplay(first, 'in', { productId: full.id, quantity: 1 }, key);
    expect(await s.onHand(full.id)).toBe(MAX_LEVEL - 10);
  });

  it('a first 404 is kept: replayed even once the warehouse exists', async () => {
    const product = await s.createProduct('Idem-404');
    const code = `LATE_${s.next()}`;
    const body = { productId: product.id, quantity: 2, warehouse: code };
    const key = newKey();
    const first = await s.post('in', body, { key });
    expectNotFound(first, code);
    await s.t.http.post('/api/warehouses').set(bearer(s.t.tokens.manager)).send({ code, name: 'Late' }).expect(201);
    await expectReplay(first, 'in', body, key);
    expect(await s.onHand(product.id, code)).toBe(0);
    // without the key the same body now works
    await s.ok('in', body);
    expect(await s.onHand(product.id, code)).toBe(2);
  });

  it('the same key with another body: 422 IDEMPOTENCY_KEY_REUSED, nothing moves', async () => {
    const product = await s.createProduct('Idem-422');
    const w = await s.createWarehouse('IDEM422');
    await s.stockIn(product.id, 20);
    const cases: [StockRoute, Json, Json][] = [
      ['in', { productId: product.id, quantity: 1 }, { productId: product.id, quantity: 2 }],
      ['out', { productId: product.id, quantity: 1 }, { productId: product.id, quantity: 1, note: 'other' }],
      [
        'adjust',
        { productId: product.id, delta: 1, reason: 'FOUND' },
        { productId: product.id, delta: 1, reason: 'OTHER' },
      ],
      [
        'transfer',
        { productId: product.id, from: 'MAIN', to: w, quantity: 1 },
        { productId: product.id, from: 'MAIN', to: w, quantity: 2 },
      ],
      [
        'batch',
        { type: 'IN', lines: [{ productId: product.id, quantity: 1 }] },
        {
          type: 'IN',
          lines: [
            { productId: product.id, quantity: 1 },
            { productId: product.id, quantity: 1 },
          ],
        },
      ],
      // a first 409 and then another body
      ['out', { productId: product.id, quantity: 999 }, { productId: product.id, quantity: 1 }],
    ];
    for (const [route, body, other] of cases) {
      const key = newKey();
      const first = await s.post(route, body, { key });
      expect([201, 409]).toContain(first.status);
      const before = await s.snapshot();
      const res = await s.post(route, other, { key });
      expect({ route, status: res.status }).toEqual({ route, status: 422 });
      expectError(res, 422, 'IDEMPOTENCY_KEY_REUSED');
      expect(res.headers['idempotent-replayed']).toBeUndefined();
      await s.expectNothingMoved(before);
      // the first body still replays
      await expectReplay(first, route, body, key);
    }
  });

  it('a key belongs to one user and one route: elsewhere the same key is a new request', async () => {
    const product = await s.createProduct('Idem-Scope');
    const key = newKey();
    const body = { productId: product.id, quantity: 4 };

    const first = await s.post('in', body, { key });
    expect(first.status).toBe(201);
    // another route, same key and body
    const out = await s.post('out', body, { key });
    expect(out.status).toBe(201);
    expect(out.headers['idempotent-replayed']).toBeUndefined();
    expectMovement(out.body.movement, { type: 'OUT', quantity: -4, balanceAfter: 0 });
    // another user, same key, route and body: a new receipt
    const byManager = await s.post('in', body, { key, token: s.t.tokens.manager });
    expect(byManager.status).toBe(201);
    expect(byManager.headers['idempotent-replayed']).toBeUndefined();
    expect(byManager.body.movement.id).not.toBe(first.body.movement.id);
    expectMovement(byManager.body.movement, { actor: s.manager, balanceAfter: 4 });
    const byAdmin = await s.post('batch', { type: 'IN', lines: [body] }, { key, token: s.t.tokens.admin });
    expect(byAdmin.status).toBe(201);
    expect(await s.onHand(product.id)).toBe(8);

    // each one replays its own first answer
    await expectReplay(first, 'in', body, key);
    await expectReplay(out, 'out', body, key);
    await expectReplay(byManager, 'in', body, key, s.t.tokens.manager);
    await expectReplay(byAdmin, 'batch', { type: 'IN', lines: [body] }, key, s.t.tokens.admin);
    expect(await s.onHand(product.id)).toBe(8);
  });

  it('an empty key, a non-ASCII or control character, or more than 128 characters: 400, nothing moves', async () => {
    const product = await s.createProduct('Idem-Bad-Key');
    const w = await s.createWarehouse('BADKEY');
    await s.stockIn(product.id, 10);
    const before = await s.snapshot();
    for (const route of ['in', 'out', 'adjust', 'transfer', 'batch'] as const) {
      const body =
        route === 'adjust'
          ? { productId: product.id, delta: 1, reason: 'FOUND' }
          : route === 'transfer'
            ? { productId: product.id, from: 'MAIN', to: w, quantity: 1 }
            : route === 'batch'
              ? { type: 'IN', lines: [{ productId: product.id, quantity: 1 }] }
              : { productId: product.id, quantity: 1 };
      for (const [what, key] of [
        ['empty', ''],
        ['non-ASCII', 'clé-été'],
        ['tab', 'tab\there'],
        ['129 characters', 'k'.repeat(129)],
      ]) {
        const res = await s.post(route, body, { key });
        expect({ route, what, status: res.status }).toEqual({ route, what, status: 400 });
        expectError(res, 400, 'VALIDATION_FAILED');
      }
    }
    await s.expectNothingMoved(before);

    // 128 printable ASCII characters (space and punctuation included) are a key
    const key = `${'k'.repeat(100)} !"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~`.slice(0, 128);
    expect(key).toHaveLength(128);
    const first = await s.post('in', { productId: product.id, quantity: 1 }, { key });
    expect(first.status).toBe(201);
    await expectReplay(first, 'in', { productId: product.id, quantity: 1 }, key);
    expect(await s.onHand(product.id)).toBe(11);
  });

  it('keys are exact strings: keys differing only in letter case are different keys', async () => {
    const product = await s.createProduct('Idem-Case');
    const body = { productId: product.id, quantity: 1 };
    const upper = `CASE-KEY-${s.next()}`;
    const lower = upper.toLowerCase();
    const first = await s.post('in', body, { key: upper });
    expect(first.status).toBe(201);
    const second = await s.post('in', body, { key: lower });
    expect(second.status).toBe(201);
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(second.body.movement.id).not.toBe(first.body.movement.id);
    const third = await s.post('in', { ...body, quantity: 2 }, { key: `${upper.slice(0, 4)}${lower.slice(4)}` });
    expect(third.status).toBe(201);
    expect(await s.onHand(product.id)).toBe(4);
    await expectReplay(first, 'in', body, upper);
    await expectReplay(second, 'in', body, lower);
  });

  it('a first 400 is not kept: fixed body, same key, 201; then that one replays', async () => {
    const product = await s.createProduct('Idem-400');
    const key = newKey();
    const before = await s.snapshot();
    expectValidation(await s.post('in', { productId: product.id, quantity: 0 }, { key }), ['quantity']);
    expectValidation(await s.post('in', { productId: product.id, quantity: 2, extra: 1 }, { key }), ['extra']);
    await s.expectNothingMoved(before);
    const fixed = await s.post('in', { productId: product.id, quantity: 2 }, { key });
    expect(fixed.status).toBe(201);
    expect(fixed.headers['idempotent-replayed']).toBeUndefined();
    expectMovement(fixed.body.movement, { quantity: 2, balanceAfter: 2 });
    await expectReplay(fixed, 'in', { productId: product.id, quantity: 2 }, key);

    // transfer from = to is a 400 too, and is not kept
    const w = await s.createWarehouse('IDEM400');
    const tkey = newKey();
    expectValidationOneOf(
      await s.post('transfer', { productId: product.id, from: 'MAIN', to: 'MAIN', quantity: 1 }, { key: tkey }),
      ['from', 'to'],
    );
    const moved = await s.post('transfer', { productId: product.id, from: 'MAIN', to: w, quantity: 1 }, { key: tkey });
    expect(moved.status).toBe(201);
    expect(await s.onHand(product.id, w)).toBe(1);
  });

  it('a first 403 is not kept: the key stays free for that user on other routes and bodies', async () => {
    const product = await s.createProduct('Idem-403');
    const key = newKey();
    expectError(
      await s.post('adjust', { productId: product.id, delta: 1, reason: 'FOUND' }, { key, token: s.t.tokens.operator }),
      403,
      'FORBIDDEN',
    );
    const res = await s.post(
      'adjust',
      { productId: product.id, delta: 2, reason: 'FOUND' },
      { key, token: s.t.tokens.manager },
    );
    expect(res.status).toBe(201);
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    expect(await s.onHand(product.id)).toBe(2);
  });

  it('20 parallel duplicates: exactly one effect, every answer 201 with the same movement', async () => {
    const product = await s.createProduct('Idem-Parallel');
    await s.stockIn(product.id, 1); // the level exists
    const key = newKey();
    const body = { productId: product.id, quantity: 7, reference: 'parallel' };
    const before = await s.snapshot();
    const answers = await Promise.all(Array.from({ length: 20 }, () => s.post('in', body, { key })));
    expect(answers.map((res) => res.status)).toEqual(Array.from({ length: 20 }, () => 201));
    const ids = new Set(answers.map((res) => res.body.movement?.id as number));
    expect(ids.size).toBe(1);
    for (const res of answers) expect(res.body).toEqual(answers[0].body);
    expect(answers.filter((res) => res.headers['idempotent-replayed'] !== 'true').length).toBeLessThanOrEqual(1);
    const after = await s.snapshot();
    expect(after.movements).toBe(before.movements + 1);
    expect(after.stockAudits).toBe(before.stockAudits + 1);
    expect(await s.onHand(product.id)).toBe(8);
    expect(answers[0].body.level.onHand).toBe(8);
  });

  it('20 parallel duplicates on a level that does not exist yet: still exactly one effect', async () => {
    const product = await s.createProduct('Idem-Parallel-New');
    const key = newKey();
    const body = { type: 'IN', lines: [{ productId: product.id, quantity: 3 }] };
    const before = await s.snapshot();
    const answers = await Promise.all(Array.from({ length: 20 }, () => s.post('batch', body, { key })));
    expect(answers.map((res) => res.status)).toEqual(Array.from({ length: 20 }, () => 201));
    expect(new Set(answers.map((res) => res.body.movements?.[0]?.id as number)).size).toBe(1);
    const after = await s.snapshot();
    expect(after.movements).toBe(before.movements + 1);
    expect(after.stockAudits).toBe(before.stockAudits + 1);
    expect(await s.onHand(product.id)).toBe(3);
  });

  it('keys are kept 24 hours, then purged: an older key is a new request again', async () => {
    const product = await s.createProduct('Idem-purge');
    const body = { productId: product.id, quantity: 2 };
    const [oldKey, youngKey] = [newKey(), newKey()];
    await s.ok('in', body, { key: oldKey });
    const young = await s.post('in', body, { key: youngKey });
    expect(young.status).toBe(201);
    const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3600_000);
    await s.t.dataSource.manager.update(IdempotencyKey, { key: oldKey }, { createdAt: hoursAgo(24.1) });
    await s.t.dataSource.manager.update(IdempotencyKey, { key: youngKey }, { createdAt: hoursAgo(23.9) });

    await s.t.app.get(IdempotencyService).purgeOld(); // what the 10-minute timer runs

    await expectReplay(young, 'in', body, youngKey);
    const again = await s.post('in', body, { key: oldKey });
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(await s.onHand(product.id)).toBe(6);
  });
});

// ---------------------------------------------------------------- last: the whole ledger

s.ledgerChecks(16); // the levels this file makes: the checks look at every one
