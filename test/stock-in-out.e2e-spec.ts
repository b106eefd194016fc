import type { LevelView, MovementView } from '../src/modules/stock/stock.views';
import { expectError, expectNotFound, expectValidation, expectValidationOneOf } from './support/errors';
import {
  BAD_QUANTITIES,
  Json,
  MAX_LEVEL,
  MAX_QUANTITY,
  StockRoute,
  expectLevel,
  expectMovement,
  longText,
  stockSuite,
} from './support/stock';
import { bearer } from './support/test-app';

/**
 * POST /api/stock/in and /out: the two simplest writes, the upper bound of a level, and who may write.
 * Over HTTP on this jest project's driver, one app for the file (support/stock.ts).
 */
const s = stockSuite();

// ---------------------------------------------------------------- in

describe('POST /api/stock/in', () => {
  it('answers 201 {movement, level} with every field of the contract', async () => {
    const product = await s.createProduct('In-Shape');
    const requestId = `in-shape-${s.next()}`;
    const before = await s.snapshot();
    const res = await s.post(
      'in',
      { productId: product.id, quantity: 7, reference: 'PO-1', note: 'first' },
      { requestId },
    );
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['x-request-id']).toBe(requestId);
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    expect(Object.keys(res.body as Json).sort()).toEqual(['level', 'movement']);
    expectMovement(res.body.movement, {
      type: 'IN',
      productId: product.id,
      sku: product.sku,
      warehouse: 'MAIN',
      quantity: 7,
      balanceAfter: 7,
      reference: 'PO-1',
      note: 'first',
      reason: null,
      actor: s.operator,
      requestId,
    });
    expectLevel(res.body.level, { productId: product.id, sku: product.sku, warehouse: 'MAIN', onHand: 7 });
    const after = await s.snapshot();
    expect(after.movements).toBe(before.movements + 1);
    expect(after.stockAudits).toBe(before.stockAudits + 1);

    // a second receipt adds up; optional fields left out are present as null
    const second = await s.post('in', { productId: product.id, quantity: 3 });
    expect(second.status).toBe(201);
    expectMovement(second.body.movement, {
      type: 'IN',
      quantity: 3,
      balanceAfter: 10,
      reference: null,
      note: null,
      reason: null,
      requestId: second.headers['x-request-id'] as string,
    });
    expect(second.body.movement.id).toBeGreaterThan(res.body.movement.id);
    expectLevel(second.body.level, { onHand: 10 });

    // what GET shows is what the write answered
    const levels = await s.t.http.get(`/api/stock?productId=${product.id}`).set(bearer(s.t.tokens.viewer)).expect(200);
    expect(levels.body.items).toEqual([second.body.level]);
    const movements = await s.movementsOf(product.id);
    expect(movements).toEqual([second.body.movement, res.body.movement]);
  });

  it('a generated X-Request-Id is the movement requestId when the client sends none', async () => {
    const product = await s.createProduct('In-Rid');
    const res = await s.t.http
      .post('/api/stock/in')
      .set(bearer(s.t.tokens.operator))
      .send({ productId: product.id, quantity: 1 });
    expect(res.status).toBe(201);
    expect(typeof res.headers['x-request-id']).toBe('string');
    expect(res.headers['x-request-id']).not.toBe('');
    expect(res.body.movement.requestId).toBe(res.headers['x-request-id']);
  });

  it('names the product by sku, ignoring case; warehouse defaults to MAIN and can be any code', async () => {
    const product = await s.createProduct('In-Sku-Case');
    const warehouse = await s.createWarehouse('INSKU');
    const lower = await s.ok<{ movement: MovementView; level: LevelView }>('in', {
      sku: product.sku.toLowerCase(),
      quantity: 2,
    });
    expectMovement(lower.movement, { productId: product.id, sku: product.sku, warehouse: 'MAIN', quantity: 2 });
    const upper = await s.ok<{ movement: MovementView; level: LevelView }>('in', {
      sku: product.sku.toUpperCase(),
      quantity: 5,
      warehouse,
    });
    expectMovement(upper.movement, {
      productId: product.id,
      sku: product.sku,
      warehouse,
      quantity: 5,
      balanceAfter: 5,
    });
    expectLevel(upper.level, { productId: product.id, sku: product.sku, warehouse, onHand: 5 });
    const explicitMain = await s.ok<{ movement: MovementView; level: LevelView }>('in', {
      productId: product.id,
      quantity: 1,
      warehouse: 'MAIN',
    });
    expectLevel(explicitMain.level, { warehouse: 'MAIN', onHand: 3 });
    expect(await s.onHand(product.id)).toBe(3);
    expect(await s.onHand(product.id, warehouse)).toBe(5);
  });

  it('both productId and sku, or neither: 400, nothing moved', async () => {
    const product = await s.createProduct('In-Both');
    const before = await s.snapshot();
    expectValidationOneOf(await s.post('in', { productId: product.id, sku: product.sku, quantity: 1 }), [
      'productId',
      'sku',
    ]);
    expectValidationOneOf(await s.post('in', { quantity: 1 }), ['productId', 'sku']);
    expectValidationOneOf(await s.post('out', { productId: product.id, sku: product.sku, quantity: 1 }), [
      'productId',
      'sku',
    ]);
    expectValidationOneOf(await s.post('out', { quantity: 1 }), ['productId', 'sku']);
    await s.expectNothingMoved(before);
  });

  it('an unknown product id, SKU or warehouse, or an archived product: 404 NOT_FOUND naming it, nothing moved', async () => {
    const archived = await s.createProduct('In-Archived');
    await s.t.http.delete(`/api/products/${archived.id}`).set(bearer(s.t.tokens.manager)).expect(204);
    const product = await s.createProduct('In-404');
    const before = await s.snapshot();
    for (const route of ['in', 'out'] as const) {
      expectNotFound(await s.post(route, { productId: 99999999, quantity: 1 }), 99999999);
      expectNotFound(await s.post(route, { sku: 'NO-SUCH-SKU', quantity: 1 }), 'NO-SUCH-SKU');
      expectNotFound(await s.post(route, { productId: product.id, quantity: 1, warehouse: 'NOWHERE' }), 'NOWHERE');
      expectNotFound(await s.post(route, { productId: archived.id, quantity: 1 }), archived.id);
      expectNotFound(await s.post(route, { sku: archived.sku, quantity: 1 }), archived.sku);
    }
    await s.expectNothingMoved(before);
  });

  it('quantity must be an integer 1..1 000 000 000: anything else is 400 and moves nothing', async () => {
    const product = await s.createProduct('In-Qty');
    const before = await s.snapshot();
    for (const [what, quantity] of BAD_QUANTITIES) {
      const res = await s.post('in', { productId: product.id, quantity });
      expect({ what, status: res.status }).toEqual({ what, status: 400 });
      expectValidation(res, ['quantity']);
    }
    expectValidation(await s.post('in', { productId: product.id }), ['quantity']);
    await s.expectNothingMoved(before);

    const max = await s.ok<{ movement: MovementView; level: LevelView }>('in', {
      productId: product.id,
      quantity: MAX_QUANTITY,
    });
    expectMovement(max.movement, { quantity: MAX_QUANTITY, balanceAfter: MAX_QUANTITY });
  });

  it('reference up to 128 and note up to 500 characters; longer is 400', async () => {
    const product = await s.createProduct('In-Text');
    const before = await s.snapshot();
    expectValidation(await s.post('in', { productId: product.id, quantity: 1, reference: longText(129) }), [
      'reference',
    ]);
    expectValidation(await s.post('in', { productId: product.id, quantity: 1, note: longText(501) }), ['note']);
    expectValidation(await s.post('in', { productId: product.id, quantity: 1, reference: 12 }), ['reference']);
    await s.expectNothingMoved(before);
    const res = await s.ok<{ movement: MovementView }>('in', {
      productId: product.id,
      quantity: 1,
      reference: longText(128),
      note: longText(500),
    });
    expectMovement(res.movement, { reference: longText(128), note: longText(500) });
  });

  it('unknown body fields are 400 VALIDATION_FAILED naming them (no mass assignment), nothing moved', async () => {
    const product = await s.createProduct('In-Unknown');
    const before = await s.snapshot();
    for (const [field, value] of [
      ['foo', 'bar'],
      ['id', 1],
      ['balanceAfter', 50],
      ['type', 'OUT'],
      ['actor', { id: 1, username: 'admin' }],
      ['requestId', 'forged'],
      ['reason', 'COUNT'],
    ] as [string, unknown][]) {
      const res = await s.post('in', { productId: product.id, quantity: 1, [field]: value });
      expect({ field, status: res.status }).toEqual({ field, status: 400 });
      expectValidation(res, [field]);
      const out = await s.post('out', { productId: product.id, quantity: 1, [field]: value });
      expectValidation(out, [field]);
    }
    await s.expectNothingMoved(before);
  });
});

// ---------------------------------------------------------------- out

describe('POST /api/stock/out', () => {
  it('answers 201 {movement, level} with a negative quantity and the balance after it', async () => {
    const product = await s.createProduct('Out-Shape');
    await s.stockIn(product.id, 10);
    const requestId = `out-shape-${s.next()}`;
    const res = await s.post('out', { sku: product.sku, quantity: 4, reference: 'SO-9', note: 'ship' }, { requestId });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body as Json).sort()).toEqual(['level', 'movement']);
    expectMovement(res.body.movement, {
      type: 'OUT',
      productId: product.id,
      sku: product.sku,
      warehouse: 'MAIN',
      quantity: -4,
      balanceAfter: 6,
      reference: 'SO-9',
      note: 'ship',
      reason: null,
      actor: s.operator,
      requestId,
    });
    expectLevel(res.body.level, { productId: product.id, sku: product.sku, warehouse: 'MAIN', onHand: 6 });
    // everything that is there may go: the level reaches 0
    const rest = await s.ok<{ movement: MovementView; level: LevelView }>('out', {
      productId: product.id,
      quantity: 6,
    });
    expectMovement(rest.movement, { quantity: -6, balanceAfter: 0 });
    expectLevel(rest.level, { onHand: 0 });
    expect(await s.onHand(product.id)).toBe(0);
  });

  it('more than on hand: 409 INSUFFICIENT_STOCK with details.lines, and nothing moves', async () => {
    const product = await s.createProduct('Out-Short');
    const warehouse = await s.createWarehouse('OUTSHORT');
    await s.stockIn(product.id, 5);
    const before = await s.snapshot();

    const res = await s.post('out', { productId: product.id, quantity: 6 });
    expectError(res, 409, 'INSUFFICIENT_STOCK');
    expect(res.body.details).toEqual({
      lines: [{ productId: product.id, warehouse: 'MAIN', requested: 6, available: 5 }],
    });

    // by sku, in a warehouse that never held it: available 0
    const empty = await s.post('out', { sku: product.sku, quantity: 1, warehouse });
    expectError(empty, 409, 'INSUFFICIENT_STOCK');
    expect(empty.body.details).toEqual({ lines: [{ productId: product.id, warehouse, requested: 1, available: 0 }] });

    await s.expectNothingMoved(before);
    expect(await s.onHand(product.id)).toBe(5);
    expect(await s.onHand(product.id, warehouse)).toBe(0);
    expect(await s.movementsOf(product.id)).toHaveLength(1);
  });

  it('quantity rules as for in: 400 and nothing moves; 1 000 000 000 is allowed', async () => {
    const product = await s.createProduct('Out-Qty');
    await s.stockIn(product.id, MAX_QUANTITY);
    const before = await s.snapshot();
    for (const [what, quantity] of BAD_QUANTITIES) {
      const res = await s.post('out', { productId: product.id, quantity });
      expect({ what, status: res.status }).toEqual({ what, status: 400 });
      expectValidation(res, ['quantity']);
    }
    expectValidation(await s.post('out', { productId: product.id, quantity: 1, reference: longText(129) }), [
      'reference',
    ]);
    expectValidation(await s.post('out', { productId: product.id, quantity: 1, note: longText(501) }), ['note']);
    await s.expectNothingMoved(before);
    const res = await s.ok<{ movement: MovementView; level: LevelView }>('out', {
      productId: product.id,
      quantity: MAX_QUANTITY,
    });
    expectMovement(res.movement, { quantity: -MAX_QUANTITY, balanceAfter: 0 });
  });
});

// ---------------------------------------------------------------- the upper bound of a level

describe('a level never exceeds 2^53-1', () => {
  it('adjust to 2^53-1 works; one more in is 409 QUANTITY_OUT_OF_RANGE and nothing moves', async () => {
    const product = await s.createProduct('Max-Level');
    const set = await s.ok<{ movement: MovementView; level: LevelView }>('adjust', {
      productId: product.id,
      countedQuantity: MAX_LEVEL,
      reason: 'COUNT',
    });
    expectMovement(set.movement, { type: 'ADJUST', quantity: MAX_LEVEL, balanceAfter: MAX_LEVEL });
    expectLevel(set.level, { onHand: MAX_LEVEL });
    expect(await s.onHand(product.id)).toBe(MAX_LEVEL);

    const before = await s.snapshot();
    expectError(await s.post('in', { productId: product.id, quantity: 1 }), 409, 'QUANTITY_OUT_OF_RANGE');
    expectError(await s.post('in', { productId: product.id, quantity: MAX_QUANTITY }), 409, 'QUANTITY_OUT_OF_RANGE');
    expectError(
      await s.post('adjust', { productId: product.id, delta: 1, reason: 'FOUND' }),
      409,
      'QUANTITY_OUT_OF_RANGE',
    );
    expectError(
      await s.post('batch', { type: 'IN', lines: [{ productId: product.id, quantity: 1 }] }),
      409,
      'QUANTITY_OUT_OF_RANGE',
    );
    const source = await s.createWarehouse('MAXSRC');
    const seeded = await s.snapshot();
    await s.stockIn(product.id, 1, source);
    const afterSeed = await s.snapshot();
    expectError(
      await s.post('transfer', { productId: product.id, from: source, to: 'MAIN', quantity: 1 }),
      409,
      'QUANTITY_OUT_OF_RANGE',
    );
    await s.expectNothingMoved(afterSeed);
    expect(seeded).toEqual(before);
    expect(await s.onHand(product.id)).toBe(MAX_LEVEL);
    expect(await s.onHand(product.id, source)).toBe(1);

    // countedQuantity above 2^53-1 is not a quantity at all
    expectValidation(
      await s.post('adjust', { productId: product.id, countedQuantity: MAX_LEVEL + 1, reason: 'COUNT' }),
      ['countedQuantity'],
    );

    // one out, then one in: exactly back at the bound
    const down = await s.ok<{ movement: MovementView }>('out', { productId: product.id, quantity: 1 });
    expectMovement(down.movement, { quantity: -1, balanceAfter: MAX_LEVEL - 1 });
    const up = await s.ok<{ movement: MovementView; level: LevelView }>('in', { productId: product.id, quantity: 1 });
    expectMovement(up.movement, { quantity: 1, balanceAfter: MAX_LEVEL });
    expectLevel(up.level, { onHand: MAX_LEVEL });
  });
});

// ---------------------------------------------------------------- who may write

describe('stock writes by role', () => {
  it('viewer and monitor get 403 on in, out, transfer and batch; no token 401; nothing moves', async () => {
    const product = await s.createProduct('Roles');
    await s.stockIn(product.id, 5);
    const other = await s.createWarehouse('ROLES');
    const bodies: [StockRoute, Json][] = [
      ['in', { productId: product.id, quantity: 1 }],
      ['out', { productId: product.id, quantity: 1 }],
      ['transfer', { productId: product.id, from: 'MAIN', to: other, quantity: 1 }],
      ['batch', { type: 'IN', lines: [{ productId: product.id, quantity: 1 }] }],
      ['adjust', { productId: product.id, delta: 1, reason: 'FOUND' }],
    ];
    const before = await s.snapshot();
    for (const [route, body] of bodies) {
      for (const role of ['viewer', 'monitor'] as const) {
        const res = await s.post(route, body, { token: s.t.tokens[role] });
        expect({ route, role, status: res.status }).toEqual({ route, role, status: 403 });
        expectError(res, 403, 'FORBIDDEN');
      }
      expectError(await s.t.http.post(`/api/stock/${route}`).send(body), 401, 'UNAUTHORIZED');
    }
    await s.expectNothingMoved(before);
    for (const [route, body] of bodies.slice(0, 4)) {
      for (const role of ['operator', 'manager', 'admin'] as const) {
        const res = await s.post(route, body, { token: s.t.tokens[role] });
        expect({ route, role, status: res.status }).toEqual({ route, role, status: 201 });
      }
    }
  });
});

// ---------------------------------------------------------------- last: the whole ledger

s.ledgerChecks(13); // the levels this file makes: the checks look at every one
