import type { LevelView, MovementView } from '../src/modules/stock/stock.views';
import { expectError, expectNotFound, expectValidation, expectValidationOneOf } from './support/errors';
import {
  Json,
  MAX_LEVEL,
  MAX_QUANTITY,
  REASONS,
  expectLevel,
  expectMovement,
  longText,
  stockSuite,
} from './support/stock';
import { bearer } from './support/test-app';

/**
 * POST /api/stock/adjust: a count or a signed delta, with its reason (manager and admin).
 * Over HTTP on this jest project's driver, one app for the file (support/stock.ts).
 */
const s = stockSuite();

// ---------------------------------------------------------------- adjust

describe('POST /api/stock/adjust', () => {
  it('countedQuantity sets the level: 201 {movement, level}, an ADJUST of the difference with its reason', async () => {
    const product = await s.createProduct('Adj-Count');
    await s.stockIn(product.id, 10);
    const requestId = `adjust-count-${s.next()}`;
    const res = await s.post(
      'adjust',
      { productId: product.id, countedQuantity: 4, reason: 'COUNT', note: 'cycle count' },
      { requestId },
    );
    expect(res.status).toBe(201);
    expect(Object.keys(res.body as Json).sort()).toEqual(['level', 'movement']);
    expectMovement(res.body.movement, {
      type: 'ADJUST',
      productId: product.id,
      sku: product.sku,
      warehouse: 'MAIN',
      quantity: -6,
      balanceAfter: 4,
      reference: null,
      note: 'cycle count',
      reason: 'COUNT',
      actor: s.manager,
      requestId,
    });
    expectLevel(res.body.level, { productId: product.id, sku: product.sku, warehouse: 'MAIN', onHand: 4 });

    const up = await s.ok<{ movement: MovementView; level: LevelView }>('adjust', {
      sku: product.sku.toLowerCase(),
      countedQuantity: 9,
      reason: 'FOUND',
    });
    expectMovement(up.movement, { type: 'ADJUST', quantity: 5, balanceAfter: 9, reason: 'FOUND', note: null });
    expect(await s.onHand(product.id)).toBe(9);
  });

  it('delta changes the level by a signed amount', async () => {
    const product = await s.createProduct('Adj-Delta');
    const warehouse = await s.createWarehouse('ADJ');
    await s.stockIn(product.id, 10, warehouse);
    const down = await s.ok<{ movement: MovementView; level: LevelView }>('adjust', {
      productId: product.id,
      warehouse,
      delta: -3,
      reason: 'DAMAGE',
    });
    expectMovement(down.movement, { type: 'ADJUST', warehouse, quantity: -3, balanceAfter: 7, reason: 'DAMAGE' });
    expectLevel(down.level, { warehouse, onHand: 7 });
    const up = await s.ok<{ movement: MovementView; level: LevelView }>('adjust', {
      productId: product.id,
      warehouse,
      delta: MAX_QUANTITY,
      reason: 'CORRECTION',
    });
    expectMovement(up.movement, { quantity: MAX_QUANTITY, balanceAfter: MAX_QUANTITY + 7 });
    const back = await s.ok<{ movement: MovementView; level: LevelView }>('adjust', {
      productId: product.id,
      warehouse,
      delta: -MAX_QUANTITY,
      reason: 'CORRECTION',
    });
    expectMovement(back.movement, { quantity: -MAX_QUANTITY, balanceAfter: 7 });
    expect(await s.onHand(product.id, warehouse)).toBe(7);
    expect(await s.onHand(product.id)).toBe(0);
  });

  it('a countedQuantity equal to the level records a movement of quantity 0 (a confirmed count)', async () => {
    const product = await s.createProduct('Adj-Confirm');
    await s.stockIn(product.id, 8);
    const before = await s.snapshot();
    const res = await s.ok<{ movement: MovementView; level: LevelView }>('adjust', {
      productId: product.id,
      countedQuantity: 8,
      reason: 'COUNT',
    });
    expectMovement(res.movement, { type: 'ADJUST', quantity: 0, balanceAfter: 8, reason: 'COUNT' });
    expectLevel(res.level, { onHand: 8 });
    const after = await s.snapshot();
    expect(after.movements).toBe(before.movements + 1);
    expect(after.stockAudits).toBe(before.stockAudits + 1);
    expect(after.levels).toEqual(before.levels);
    // the level was touched: it reads back as the answer said, updatedAt included
    const listed = await s.t.http.get(`/api/stock?productId=${product.id}`).set(bearer(s.t.tokens.viewer)).expect(200);
    expect(listed.body.items).toEqual([res.level]);
    expect((await s.movementsOf(product.id))[0]).toEqual(res.movement);

    // a count of 0 on a level that does not exist yet is a confirmed count too
    const fresh = await s.createProduct('Adj-Confirm-Zero');
    const zero = await s.ok<{ movement: MovementView; level: LevelView }>('adjust', {
      productId: fresh.id,
      countedQuantity: 0,
      reason: 'COUNT',
    });
    expectMovement(zero.movement, { quantity: 0, balanceAfter: 0 });
    expectLevel(zero.level, { productId: fresh.id, onHand: 0 });
  });

  it('exactly one of countedQuantity or delta; delta non-zero, |delta| <= 1e9; countedQuantity 0..2^53-1', async () => {
    const product = await s.createProduct('Adj-Rules');
    await s.stockIn(product.id, 5);
    const before = await s.snapshot();
    const base = { productId: product.id, reason: 'CORRECTION' };
    expectValidationOneOf(await s.post('adjust', { ...base, countedQuantity: 3, delta: 1 }), [
      'countedQuantity',
      'delta',
    ]);
    expectValidationOneOf(await s.post('adjust', { ...base }), ['countedQuantity', 'delta']);
    for (const delta of [0, MAX_QUANTITY + 1, -(MAX_QUANTITY + 1), 1.5, '2', null]) {
      const res = await s.post('adjust', { ...base, delta });
      expect({ delta, status: res.status }).toEqual({ delta, status: 400 });
      expectValidation(res, ['delta']);
    }
    for (const countedQuantity of [-1, 1.5, '3', MAX_LEVEL + 1, null]) {
      const res = await s.post('adjust', { ...base, countedQuantity });
      expect({ countedQuantity, status: res.status }).toEqual({ countedQuantity, status: 400 });
      expectValidation(res, ['countedQuantity']);
    }
    expectValidation(await s.post('adjust', { ...base, delta: 1, note: longText(501) }), ['note']);
    expectValidation(await s.post('adjust', { ...base, delta: 1, quantity: 1 }), ['quantity']);
    expectValidation(await s.post('adjust', { ...base, delta: 1, reference: 'R-1' }), ['reference']);
    expectValidationOneOf(
      await s.post('adjust', { delta: 1, reason: 'COUNT', productId: product.id, sku: product.sku }),
      ['productId', 'sku'],
    );
    await s.expectNothingMoved(before);
  });

  it('reason is required and one of COUNT, DAMAGE, LOSS, FOUND, CORRECTION, OTHER', async () => {
    const product = await s.createProduct('Adj-Reason');
    await s.stockIn(product.id, 100);
    const before = await s.snapshot();
    expectValidation(await s.post('adjust', { productId: product.id, delta: -1 }), ['reason']);
    for (const reason of ['THEFT', 'count', '', null, 1]) {
      const res = await s.post('adjust', { productId: product.id, delta: -1, reason });
      expect({ reason, status: res.status }).toEqual({ reason, status: 400 });
      expectValidation(res, ['reason']);
    }
    await s.expectNothingMoved(before);
    let level = 100;
    for (const reason of REASONS) {
      const res = await s.ok<{ movement: MovementView }>('adjust', { productId: product.id, delta: -1, reason });
      level -= 1;
      expectMovement(res.movement, { reason, quantity: -1, balanceAfter: level });
    }
    expect(await s.onHand(product.id)).toBe(level);
  });

  it('a result below 0 is 409 INSUFFICIENT_STOCK and nothing moves', async () => {
    const product = await s.createProduct('Adj-Negative');
    await s.stockIn(product.id, 7);
    const before = await s.snapshot();
    expectError(
      await s.post('adjust', { productId: product.id, delta: -8, reason: 'LOSS' }),
      409,
      'INSUFFICIENT_STOCK',
    );
    const fresh = await s.createProduct('Adj-Negative-Fresh');
    expectError(await s.post('adjust', { productId: fresh.id, delta: -1, reason: 'LOSS' }), 409, 'INSUFFICIENT_STOCK');
    await s.expectNothingMoved(before);
    expect(await s.onHand(product.id)).toBe(7);
  });

  it('unknown product, SKU or warehouse: 404 NOT_FOUND naming it', async () => {
    const product = await s.createProduct('Adj-404');
    const before = await s.snapshot();
    expectNotFound(await s.post('adjust', { productId: 99999998, delta: 1, reason: 'FOUND' }), 99999998);
    expectNotFound(await s.post('adjust', { sku: 'NO-SUCH-ADJ', delta: 1, reason: 'FOUND' }), 'NO-SUCH-ADJ');
    expectNotFound(
      await s.post('adjust', { productId: product.id, warehouse: 'NOWHERE', countedQuantity: 1, reason: 'COUNT' }),
      'NOWHERE',
    );
    await s.expectNothingMoved(before);
  });

  it('manager and admin may adjust; operator and viewer get 403 FORBIDDEN and nothing moves', async () => {
    const product = await s.createProduct('Adj-Roles');
    await s.stockIn(product.id, 10);
    const before = await s.snapshot();
    for (const role of ['operator', 'viewer', 'monitor'] as const) {
      const res = await s.post(
        'adjust',
        { productId: product.id, delta: -1, reason: 'LOSS' },
        { token: s.t.tokens[role] },
      );
      expect({ role, status: res.status }).toEqual({ role, status: 403 });
      expectError(res, 403, 'FORBIDDEN');
    }
    await s.expectNothingMoved(before);
    const byAdmin = await s.ok<{ movement: MovementView }>(
      'adjust',
      { productId: product.id, delta: -1, reason: 'LOSS' },
      { token: s.t.tokens.admin },
    );
    expectMovement(byAdmin.movement, { actor: await s.whoAmI(s.t.tokens.admin), balanceAfter: 9 });
    const byManager = await s.ok<{ movement: MovementView }>('adjust', {
      productId: product.id,
      delta: -1,
      reason: 'LOSS',
    });
    expectMovement(byManager.movement, { actor: s.manager, balanceAfter: 8 });
  });
});

// ---------------------------------------------------------------- last: the whole ledger

s.ledgerChecks(8); // the levels this file makes: the checks look at every one
