import type { LevelView, MovementView } from '../src/modules/stock/stock.views';
import { expectError, expectNotFound, expectValidation, expectValidationOneOf } from './support/errors';
import { Json, expectLevel, expectMovement, longText, stockSuite } from './support/stock';
import { bearer } from './support/test-app';

/**
 * POST /api/stock/batch: up to 100 lines, all or nothing.
 * Over HTTP on this jest project's driver, one app for the file (support/stock.ts).
 */
const s = stockSuite();

// ---------------------------------------------------------------- batch

describe('POST /api/stock/batch', () => {
  it('IN answers 201 {movements, levels}, one per line in line order', async () => {
    const a = await s.createProduct('Batch-A');
    const b = await s.createProduct('Batch-B');
    const warehouse = await s.createWarehouse('BATCH');
    const requestId = `batch-in-${s.next()}`;
    const before = await s.snapshot();
    const res = await s.post(
      'batch',
      {
        type: 'IN',
        reference: 'GRN-7',
        lines: [
          { productId: a.id, quantity: 5 },
          { sku: b.sku.toLowerCase(), quantity: 2, warehouse },
          { productId: a.id, quantity: 1 },
        ],
      },
      { requestId },
    );
    expect(res.status).toBe(201);
    expect(Object.keys(res.body as Json).sort()).toEqual(['levels', 'movements']);
    const movements = res.body.movements as MovementView[];
    expect(movements).toHaveLength(3);
    const common = { type: 'IN' as const, reference: 'GRN-7', reason: null, actor: s.operator, requestId };
    expectMovement(movements[0], {
      ...common,
      productId: a.id,
      sku: a.sku,
      warehouse: 'MAIN',
      quantity: 5,
      balanceAfter: 5,
    });
    expectMovement(movements[1], { ...common, productId: b.id, sku: b.sku, warehouse, quantity: 2, balanceAfter: 2 });
    expectMovement(movements[2], {
      ...common,
      productId: a.id,
      sku: a.sku,
      warehouse: 'MAIN',
      quantity: 1,
      balanceAfter: 6,
    });
    expect(new Set(movements.map((m) => m.id)).size).toBe(3);
    const levels = res.body.levels as LevelView[];
    expect(levels).toHaveLength(3);
    for (const level of levels) expectLevel(level);
    expect(levels.map((l) => [l.productId, l.warehouse])).toEqual([
      [a.id, 'MAIN'],
      [b.id, warehouse],
      [a.id, 'MAIN'],
    ]);
    expect(levels[1].onHand).toBe(2);
    expect(levels[2].onHand).toBe(6);
    const after = await s.snapshot();
    expect(after.movements).toBe(before.movements + 3);
    expect(after.stockAudits).toBe(before.stockAudits + 1);
    expect(await s.onHand(a.id)).toBe(6);
    expect(await s.onHand(b.id, warehouse)).toBe(2);
  });

  it('OUT takes every line; lines on one level add up (5 on hand: 3 + 2 works)', async () => {
    const a = await s.createProduct('Batch-Out-A');
    const b = await s.createProduct('Batch-Out-B');
    await s.stockIn(a.id, 5);
    await s.stockIn(b.id, 4);
    const res = await s.ok<{ movements: MovementView[]; levels: LevelView[] }>('batch', {
      type: 'OUT',
      lines: [
        { productId: a.id, quantity: 3 },
        { productId: b.id, quantity: 4 },
        { sku: a.sku, quantity: 2 },
      ],
    });
    expect(res.movements.map((m) => [m.type, m.productId, m.quantity, m.balanceAfter, m.reference])).toEqual([
      ['OUT', a.id, -3, 2, null],
      ['OUT', b.id, -4, 0, null],
      ['OUT', a.id, -2, 0, null],
    ]);
    expect(await s.onHand(a.id)).toBe(0);
    expect(await s.onHand(b.id)).toBe(0);
  });

  it('all or nothing: one short line is 409 listing every short line, and nothing moves', async () => {
    const a = await s.createProduct('Batch-Short-A');
    const b = await s.createProduct('Batch-Short-B');
    const c = await s.createProduct('Batch-Short-C');
    const warehouse = await s.createWarehouse('BSHORT');
    await s.stockIn(a.id, 2);
    await s.stockIn(b.id, 10);
    await s.stockIn(c.id, 1, warehouse);
    const before = await s.snapshot();
    const res = await s.post('batch', {
      type: 'OUT',
      lines: [
        { productId: a.id, quantity: 3 },
        { productId: b.id, quantity: 4 },
        { sku: c.sku, quantity: 5, warehouse },
      ],
    });
    expectError(res, 409, 'INSUFFICIENT_STOCK');
    const lines = res.body.details?.lines as Json[];
    expect(lines).toHaveLength(2);
    expect(lines).toEqual(
      expect.arrayContaining([
        { productId: a.id, warehouse: 'MAIN', requested: 3, available: 2 },
        { productId: c.id, warehouse, requested: 5, available: 1 },
      ]),
    );
    // just one short line among good ones: still nothing moves
    const one = await s.post('batch', {
      type: 'OUT',
      lines: [
        { productId: b.id, quantity: 1 },
        { productId: a.id, quantity: 3 },
      ],
    });
    expectError(one, 409, 'INSUFFICIENT_STOCK');
    expect(one.body.details).toEqual({ lines: [{ productId: a.id, warehouse: 'MAIN', requested: 3, available: 2 }] });
    await s.expectNothingMoved(before);
    expect(await s.onHand(b.id)).toBe(10);
  });

  it('lines naming the same product and warehouse are checked against their sum (5 on hand: 3 + 3 is 409)', async () => {
    const product = await s.createProduct('Batch-Sum');
    await s.stockIn(product.id, 5);
    const before = await s.snapshot();
    const res = await s.post('batch', {
      type: 'OUT',
      lines: [
        { productId: product.id, quantity: 3 },
        { sku: product.sku.toUpperCase(), quantity: 3, warehouse: 'MAIN' },
      ],
    });
    expectError(res, 409, 'INSUFFICIENT_STOCK');
    expect(res.body.details).toEqual({
      lines: [{ productId: product.id, warehouse: 'MAIN', requested: 6, available: 5 }],
    });
    await s.expectNothingMoved(before);
    expect(await s.onHand(product.id)).toBe(5);
  });

  it('1..100 lines: 0 and 101 are 400, 100 works', async () => {
    const product = await s.createProduct('Batch-Size');
    const before = await s.snapshot();
    expectValidation(await s.post('batch', { type: 'IN', lines: [] }), ['lines']);
    const line = { productId: product.id, quantity: 1 };
    expectValidation(await s.post('batch', { type: 'IN', lines: Array.from({ length: 101 }, () => line) }), ['lines']);
    expectValidation(await s.post('batch', { type: 'IN' }), ['lines']);
    expectValidation(await s.post('batch', { type: 'IN', lines: line }), ['lines']);
    await s.expectNothingMoved(before);
    const res = await s.ok<{ movements: MovementView[]; levels: LevelView[] }>('batch', {
      type: 'IN',
      lines: Array.from({ length: 100 }, () => line),
    });
    expect(res.movements).toHaveLength(100);
    expect(res.levels).toHaveLength(100);
    expect(res.movements.map((m) => m.balanceAfter)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(await s.onHand(product.id)).toBe(100);
  });

  it('the largest batch (100 lines, longest reference in 3-byte characters, longest request id) is recorded whole', async () => {
    const product = await s.createProduct('Batch-Big');
    const body = {
      type: 'IN',
      lines: Array.from({ length: 100 }, () => ({ productId: product.id, quantity: 1 })),
      reference: '€'.repeat(128),
    };
    const key = `big-${s.next()}`;
    const requestId = `big-${s.next()}-`.padEnd(128, 'x');
    const first = await s.post('batch', body, { key, requestId });
    expect(first.status).toBe(201);
    const movements = first.body.movements as MovementView[];
    expect(movements).toHaveLength(100);
    expect(movements).toEqual(Array(100).fill(expect.objectContaining({ reference: body.reference, requestId })));
    // the audit entry (over 64 KB of JSON: past MySQL's TEXT) holds every movement, ids included
    const audit = await s.t.http
      .get(`/api/audit-logs?action=stock.batch&entityType=movement&entityId=${movements[0].id}`)
      .set(bearer(s.t.tokens.admin));
    expect(audit.status).toBe(200);
    expect(audit.body.items).toHaveLength(1);
    expect(audit.body.items[0].after).toEqual({ movements });
    // and the stored answer replays whole
    const again = await s.post('batch', body, { key, requestId });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await s.onHand(product.id)).toBe(100);
  });

  it('a bad line is 400 naming its field path (lines.<i>.<field>); a bad type is 400; nothing moves', async () => {
    const product = await s.createProduct('Batch-Bad');
    const good = { productId: product.id, quantity: 1 };
    const before = await s.snapshot();
    expectValidation(await s.post('batch', { type: 'IN', lines: [{ productId: product.id, quantity: 0 }] }), [
      'lines.0.quantity',
    ]);
    expectValidation(await s.post('batch', { type: 'IN', lines: [good, { productId: product.id, quantity: 1.5 }] }), [
      'lines.1.quantity',
    ]);
    expectValidation(await s.post('batch', { type: 'IN', lines: [good, good, { productId: product.id }] }), [
      'lines.2.quantity',
    ]);
    expectValidation(await s.post('batch', { type: 'IN', lines: [good, { ...good, foo: 1 }] }), ['lines.1.foo']);
    expectValidation(await s.post('batch', { type: 'IN', lines: [good, { ...good, reference: 'x' }] }), [
      'lines.1.reference',
    ]);
    expectValidationOneOf(await s.post('batch', { type: 'IN', lines: [good, { quantity: 1 }] }), [
      'lines.1.productId',
      'lines.1.sku',
    ]);
    expectValidationOneOf(await s.post('batch', { type: 'IN', lines: [{ ...good, sku: product.sku }] }), [
      'lines.0.productId',
      'lines.0.sku',
    ]);
    for (const type of ['ADJUST', 'in', 'TRANSFER_IN', null]) {
      const res = await s.post('batch', { type, lines: [good] });
      expect({ type, status: res.status }).toEqual({ type, status: 400 });
      expectValidation(res, ['type']);
    }
    expectValidation(await s.post('batch', { lines: [good] }), ['type']);
    expectValidation(await s.post('batch', { type: 'IN', lines: [good], reference: longText(129) }), ['reference']);
    expectValidation(await s.post('batch', { type: 'IN', lines: [good], note: 'x' }), ['note']);
    await s.expectNothingMoved(before);
  });

  it('an unknown product or warehouse on any line: 404 naming it, nothing moves', async () => {
    const product = await s.createProduct('Batch-404');
    const good = { productId: product.id, quantity: 1 };
    const before = await s.snapshot();
    expectNotFound(
      await s.post('batch', { type: 'IN', lines: [good, { productId: 99999996, quantity: 1 }] }),
      99999996,
    );
    expectNotFound(
      await s.post('batch', { type: 'IN', lines: [good, { sku: 'NO-SUCH-LINE', quantity: 1 }] }),
      'NO-SUCH-LINE',
    );
    expectNotFound(await s.post('batch', { type: 'OUT', lines: [{ ...good, warehouse: 'NOWHERE' }] }), 'NOWHERE');
    await s.expectNothingMoved(before);
  });
});

// ---------------------------------------------------------------- last: the whole ledger

s.ledgerChecks(10); // the levels this file makes: the checks look at every one
