import type { LevelView, MovementView } from '../src/modules/stock/stock.views';
import { expectError, expectNotFound, expectValidation, expectValidationOneOf } from './support/errors';
import { BAD_QUANTITIES, Json, expectLevel, expectMovement, longText, stockSuite } from './support/stock';

/**
 * POST /api/stock/transfer: out of one warehouse and into another in one write.
 * Over HTTP on this jest project's driver, one app for the file (support/stock.ts).
 */
const s = stockSuite();

// ---------------------------------------------------------------- transfer

describe('POST /api/stock/transfer', () => {
  it('answers 201 {movements: [out, in], levels: [from, to]}', async () => {
    const product = await s.createProduct('Xfer-Shape');
    const to = await s.createWarehouse('XFER');
    await s.stockIn(product.id, 10);
    const requestId = `transfer-${s.next()}`;
    const before = await s.snapshot();
    const res = await s.post(
      'transfer',
      { productId: product.id, from: 'MAIN', to, quantity: 4, reference: 'T-1' },
      { requestId },
    );
    expect(res.status).toBe(201);
    expect(Object.keys(res.body as Json).sort()).toEqual(['levels', 'movements']);
    expect(res.body.movements).toHaveLength(2);
    expect(res.body.levels).toHaveLength(2);
    const [out, into] = res.body.movements as MovementView[];
    const common = {
      productId: product.id,
      sku: product.sku,
      reference: 'T-1',
      note: null,
      reason: null,
      actor: s.operator,
      requestId,
    };
    expectMovement(out, { ...common, type: 'TRANSFER_OUT', warehouse: 'MAIN', quantity: -4, balanceAfter: 6 });
    expectMovement(into, { ...common, type: 'TRANSFER_IN', warehouse: to, quantity: 4, balanceAfter: 4 });
    expect(into.id).toBeGreaterThan(out.id);
    expect(into.createdAt).toBe(out.createdAt);
    expectLevel(res.body.levels[0], { productId: product.id, sku: product.sku, warehouse: 'MAIN', onHand: 6 });
    expectLevel(res.body.levels[1], { productId: product.id, sku: product.sku, warehouse: to, onHand: 4 });
    const after = await s.snapshot();
    expect(after.movements).toBe(before.movements + 2);
    expect(after.stockAudits).toBe(before.stockAudits + 1);

    // and back, by sku: the product's total never changes
    const back = await s.ok<{ movements: MovementView[]; levels: LevelView[] }>('transfer', {
      sku: product.sku.toLowerCase(),
      from: to,
      to: 'MAIN',
      quantity: 4,
    });
    expect(back.movements.map((m) => [m.type, m.warehouse, m.quantity, m.balanceAfter])).toEqual([
      ['TRANSFER_OUT', to, -4, 0],
      ['TRANSFER_IN', 'MAIN', 4, 10],
    ]);
    expect(back.levels.map((l) => [l.warehouse, l.onHand])).toEqual([
      [to, 0],
      ['MAIN', 10],
    ]);
    expect((await s.getProduct(product.id)).onHand).toBe(10);
  });

  it('from = to, a missing from or to, bad quantities, unknown fields: 400, nothing moved', async () => {
    const product = await s.createProduct('Xfer-Rules');
    const other = await s.createWarehouse('XFERR');
    await s.stockIn(product.id, 10);
    const before = await s.snapshot();
    const base = { productId: product.id, from: 'MAIN', to: other, quantity: 1 };
    expectValidationOneOf(await s.post('transfer', { ...base, to: 'MAIN' }), ['from', 'to']);
    expectValidationOneOf(await s.post('transfer', { ...base, from: other }), ['from', 'to']);
    expectValidation(await s.post('transfer', { productId: product.id, to: other, quantity: 1 }), ['from']);
    expectValidation(await s.post('transfer', { productId: product.id, from: 'MAIN', quantity: 1 }), ['to']);
    expectValidation(await s.post('transfer', { productId: product.id, quantity: 1 }), ['from', 'to']);
    expectValidation(await s.post('transfer', { ...base, warehouse: 'MAIN' }), ['warehouse']);
    expectValidation(await s.post('transfer', { ...base, note: 'x' }), ['note']);
    expectValidation(await s.post('transfer', { ...base, reference: longText(129) }), ['reference']);
    for (const [what, quantity] of BAD_QUANTITIES) {
      const res = await s.post('transfer', { ...base, quantity });
      expect({ what, status: res.status }).toEqual({ what, status: 400 });
      expectValidation(res, ['quantity']);
    }
    expectValidationOneOf(await s.post('transfer', { ...base, sku: product.sku }), ['productId', 'sku']);
    expectValidationOneOf(await s.post('transfer', { from: 'MAIN', to: other, quantity: 1 }), ['productId', 'sku']);
    await s.expectNothingMoved(before);
  });

  it('unknown product or warehouse: 404 naming it; more than on hand: 409 INSUFFICIENT_STOCK; nothing moved', async () => {
    const product = await s.createProduct('Xfer-Short');
    const other = await s.createWarehouse('XFERS');
    await s.stockIn(product.id, 3);
    const before = await s.snapshot();
    expectNotFound(await s.post('transfer', { productId: 99999997, from: 'MAIN', to: other, quantity: 1 }), 99999997);
    expectNotFound(
      await s.post('transfer', { productId: product.id, from: 'NOWHERE', to: other, quantity: 1 }),
      'NOWHERE',
    );
    expectNotFound(
      await s.post('transfer', { productId: product.id, from: 'MAIN', to: 'NOWHERE', quantity: 1 }),
      'NOWHERE',
    );

    const short = await s.post('transfer', { productId: product.id, from: 'MAIN', to: other, quantity: 4 });
    expectError(short, 409, 'INSUFFICIENT_STOCK');
    expect(short.body.details).toEqual({
      lines: [{ productId: product.id, warehouse: 'MAIN', requested: 4, available: 3 }],
    });
    const empty = await s.post('transfer', { productId: product.id, from: other, to: 'MAIN', quantity: 1 });
    expectError(empty, 409, 'INSUFFICIENT_STOCK');
    await s.expectNothingMoved(before);
    expect(await s.onHand(product.id)).toBe(3);
    expect(await s.onHand(product.id, other)).toBe(0);
  });
});

// ---------------------------------------------------------------- last: the whole ledger

s.ledgerChecks(4); // the levels this file makes: the checks look at every one
