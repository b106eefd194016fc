import { ApiError } from '../../common/errors/api-error';
import { MAX_LEVEL } from '../../common/quantities';
import { PLACEHOLDER_ID } from '../../database/dialect';
import { levelKeyOf } from './levels/level-key';
import { assertWithinRange, levelsItMayAddTo, plan, ResolvedWrite, StockOperation } from './stock-planner';

const NOW = new Date('2026-05-06T07:08:09.010Z');
const MAIN = { id: 1, code: 'MAIN' };
const EAST = { id: 2, code: 'EAST' };
const ctx = { user: { id: 7, username: 'op', role: 'operator' as const }, requestId: 'req-1', ip: '10.0.0.1' };

/** A resolved write of `lines` [productId, warehouse, operation]. */
function resolved(lines: [number, typeof MAIN, Omit<StockOperation, 'product'>][], reference?: string): ResolvedWrite {
  return {
    ctx,
    write: {
      action: 'stock.batch',
      operations: lines.map(([productId, , op]) => ({ ...op, product: { productId } })),
      reference,
    },
    warehouses: lines.map(([, warehouse]) => warehouse),
    productIds: lines.map(([productId]) => productId),
    keys: lines.map(([productId, warehouse]) => ({ productId, warehouseId: warehouse.id })),
  };
}

const level = (warehouse: typeof MAIN, productId: number) => levelKeyOf({ warehouseId: warehouse.id, productId });
const locked = (onHand: [string, number][], skus: [number, string][] = [[10, 'SKU-10']]) => ({
  skus: new Map(skus),
  onHand: new Map(onHand),
});
const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return { code: error.code, details: error.details };
    throw error;
  }
  throw new Error('not refused');
};

describe('plan', () => {
  it('one movement per line with its balance after; views carry placeholder ids counted from firstMovement', () => {
    const write = resolved(
      [
        [10, MAIN, { type: 'OUT', delta: -2 }],
        [10, EAST, { type: 'IN', delta: 5 }],
      ],
      'R-1',
    );
    const { result, movements, end } = plan(
      write,
      locked([
        [level(MAIN, 10), 3],
        [level(EAST, 10), 0],
      ]),
      NOW,
      4,
    );
    expect(movements).toEqual([
      expect.objectContaining({ type: 'OUT', productId: 10, warehouseId: 1, quantity: -2, balanceAfter: 1 }),
      expect.objectContaining({ type: 'IN', productId: 10, warehouseId: 2, quantity: 5, balanceAfter: 5 }),
    ]);
    expect(movements[0]).toEqual(
      expect.objectContaining({
        reference: 'R-1',
        actorId: 7,
        actorUsername: 'op',
        requestId: 'req-1',
        createdAt: NOW,
      }),
    );
    expect(result.movements.map((m) => [m.id, m.sku, m.warehouse])).toEqual([
      [PLACEHOLDER_ID(4), 'SKU-10', 'MAIN'],
      [PLACEHOLDER_ID(5), 'SKU-10', 'EAST'],
    ]);
    expect(result.levels).toEqual([
      { productId: 10, sku: 'SKU-10', warehouse: 'MAIN', onHand: 1, updatedAt: NOW.toISOString() },
      { productId: 10, sku: 'SKU-10', warehouse: 'EAST', onHand: 5, updatedAt: NOW.toISOString() },
    ]);
    expect([...end]).toEqual([
      [level(MAIN, 10), 1],
      [level(EAST, 10), 5],
    ]);
  });

  it('lines on one level add up before any check: 5 on hand takes 3 + 2, refuses 3 + 3 naming the sum', () => {
    const onHand = () => locked([[level(MAIN, 10), 5]]);
    const out = (a: number, b: number) =>
      resolved([
        [10, MAIN, { type: 'OUT', delta: -a }],
        [10, MAIN, { type: 'OUT', delta: -b }],
      ]);
    expect(plan(out(3, 2), onHand(), NOW, 0).movements.map((m) => m.balanceAfter)).toEqual([2, 0]);
    expect(refusal(() => plan(out(3, 3), onHand(), NOW, 0))).toEqual({
      code: 'INSUFFICIENT_STOCK',
      details: { lines: [{ productId: 10, warehouse: 'MAIN', requested: 6, available: 5 }] },
    });
  });

  it('a count sets the level: its movement is the difference from the balance the lines before it left', () => {
    const write = resolved([
      [10, MAIN, { type: 'IN', delta: 4 }],
      [10, MAIN, { type: 'ADJUST', countedQuantity: 10 }],
      [10, MAIN, { type: 'ADJUST', countedQuantity: 10 }],
    ]);
    const { movements } = plan(write, locked([[level(MAIN, 10), 1]]), NOW, 0);
    expect(movements.map((m) => [m.quantity, m.balanceAfter])).toEqual([
      [4, 5],
      [5, 10],
      [0, 10],
    ]);
  });

  it('a product the lock did not find active is 404 naming it as the request did', () => {
    const write = resolved([[11, MAIN, { type: 'IN', delta: 1 }]]);
    write.write.operations[0].product = { sku: 'gone' };
    expect(refusal(() => plan(write, locked([[level(MAIN, 11), 0]]), NOW, 0))).toEqual({
      code: 'NOT_FOUND',
      details: { sku: 'gone' },
    });
  });

  it('above 2^53-1 is QUANTITY_OUT_OF_RANGE naming the level', () => {
    const write = resolved([[10, EAST, { type: 'IN', delta: 2 }]]);
    expect(refusal(() => plan(write, locked([[level(EAST, 10), MAX_LEVEL - 1]]), NOW, 0))).toEqual({
      code: 'QUANTITY_OUT_OF_RANGE',
      details: { productId: 10, warehouse: 'EAST' },
    });
  });
});

describe('assertWithinRange', () => {
  const keys = [
    { warehouseId: 1, productId: 10 },
    { warehouseId: 1, productId: 11 },
  ];
  const code = () => 'MAIN';
  const map = (a: number, b: number) =>
    new Map([
      [levelKeyOf(keys[0]), a],
      [levelKeyOf(keys[1]), b],
    ]);

  it('accepts 0 and 2^53-1 exactly', () => {
    expect(() => assertWithinRange(keys, map(0, 0), map(0, MAX_LEVEL), code)).not.toThrow();
  });

  it('lists every short level, before looking for one too high', () => {
    expect(refusal(() => assertWithinRange(keys, map(1, 2), map(-1, -3), code))).toEqual({
      code: 'INSUFFICIENT_STOCK',
      details: {
        lines: [
          { productId: 10, warehouse: 'MAIN', requested: 2, available: 1 },
          { productId: 11, warehouse: 'MAIN', requested: 5, available: 2 },
        ],
      },
    });
    expect(refusal(() => assertWithinRange(keys, map(1, 0), map(-1, MAX_LEVEL + 1), code)).code).toBe(
      'INSUFFICIENT_STOCK',
    );
  });
});

describe('levelsItMayAddTo', () => {
  it('a positive delta or a count may add to a level; a negative delta only takes', () => {
    const write = resolved([
      [10, MAIN, { type: 'IN', delta: 1 }],
      [11, MAIN, { type: 'OUT', delta: -1 }],
      [12, EAST, { type: 'ADJUST', countedQuantity: 0 }],
    ]);
    expect(levelsItMayAddTo(write)).toEqual([level(MAIN, 10), level(EAST, 12)]);
  });
});
