import { ApiError } from '../../common/errors/api-error';
import { MAX_LEVEL } from '../../common/quantities';
import { PLACEHOLDER_ID } from '../../database/dialect';
import { levelKeyOf } from './levels/level-key';
import { ReservationState } from './reservations/reservations.repository';
import { ReservationRecord } from './reservations/reservation.views';
import {
  assertWithinRange,
  levelsItMayAddTo,
  Locked,
  plan,
  ResolvedWrite,
  statusAt,
  StockOperation,
  StockWrite,
} from './stock-planner';

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
/** Locked levels [key, onHand] or [key, onHand, reserved]. */
const locked = (
  levels: ([string, number] | [string, number, number])[],
  skus: [number, string][] = [[10, 'SKU-10']],
  reservations: [number, ReservationState][] = [],
): Locked => ({
  skus: new Map(skus),
  levels: new Map(levels.map(([key, onHand, reserved = 0]) => [key, { onHand, reserved }])),
  reservations: new Map(reservations),
  nextReservationId: 41,
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
    const view = (warehouse: string, onHand: number) => ({
      productId: 10,
      sku: 'SKU-10',
      warehouse,
      onHand,
      reserved: 0,
      available: onHand,
      updatedAt: NOW.toISOString(),
    });
    expect(result.levels).toEqual([view('MAIN', 1), view('EAST', 5)]);
    expect([...end]).toEqual([
      [level(MAIN, 10), { onHand: 1, reserved: 0 }],
      [level(EAST, 10), { onHand: 5, reserved: 0 }],
    ]);
  });

  it('lines on one level add up before any check: 5 on hand takes 3 + 2, refuses 3 + 3 naming the sum', () => {
    const onHand = () => locked([[level(MAIN, 10), 5]]);
    const out = (a: number, b: number) =>
      resolved([
        [10, MAIN, { type: 'OUT', delta: -a, takesAvailable: true }],
        [10, MAIN, { type: 'OUT', delta: -b, takesAvailable: true }],
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
  /** Both levels' [onHand, reserved]. */
  const map = (a: [number, number], b: [number, number]) =>
    new Map([
      [levelKeyOf(keys[0]), { onHand: a[0], reserved: a[1] }],
      [levelKeyOf(keys[1]), { onHand: b[0], reserved: b[1] }],
    ]);
  const none = new Set<string>();
  const both = new Set(keys.map(levelKeyOf));

  it('accepts 0 and 2^53-1 exactly', () => {
    expect(() => assertWithinRange(keys, map([0, 0], [0, 0]), map([0, 0], [MAX_LEVEL, 0]), none, code)).not.toThrow();
  });

  it('lists every short level, before looking for one too high', () => {
    expect(refusal(() => assertWithinRange(keys, map([1, 0], [2, 0]), map([-1, 0], [-3, 0]), none, code))).toEqual({
      code: 'INSUFFICIENT_STOCK',
      details: {
        lines: [
          { productId: 10, warehouse: 'MAIN', requested: 2, available: 1 },
          { productId: 11, warehouse: 'MAIN', requested: 5, available: 2 },
        ],
      },
    });
    expect(
      refusal(() => assertWithinRange(keys, map([1, 0], [0, 0]), map([-1, 0], [MAX_LEVEL + 1, 0]), none, code)).code,
    ).toBe('INSUFFICIENT_STOCK');
  });

  it('a write that takes available stock may not dig into what is reserved; one that does not, may', () => {
    const start = map([10, 4], [10, 0]);
    const end = map([3, 4], [3, 0]); // 7 taken from each
    expect(refusal(() => assertWithinRange(keys, start, end, both, code))).toEqual({
      code: 'INSUFFICIENT_STOCK',
      details: { lines: [{ productId: 10, warehouse: 'MAIN', requested: 7, available: 6 }] },
    });
    expect(() => assertWithinRange(keys, start, end, none, code)).not.toThrow(); // an adjust or a confirm
  });
});

describe('reservations', () => {
  const record = (id: number, quantity: number): ReservationRecord => ({
    id,
    status: 'ACTIVE',
    lines: [{ productId: 10, sku: 'SKU-10', warehouse: 'MAIN', warehouseId: MAIN.id, quantity }],
    reference: 'ORD-9',
    note: null,
    expiresAt: new Date(NOW.getTime() + 60_000),
    createdAt: new Date(NOW.getTime() - 1000),
    createdBy: { id: 7, username: 'op' },
    closedAt: null,
  });
  const active = (id: number, expiresInMs = 60_000): [number, ReservationState] => [
    id,
    { status: 'ACTIVE', expiresAt: new Date(NOW.getTime() + expiresInMs) },
  ];
  const writeOf = (write: Partial<StockWrite>, ops: Omit<StockOperation, 'product'>[]): ResolvedWrite => {
    const base = resolved(ops.map((op) => [10, MAIN, op]));
    return { ...base, write: { ...base.write, ...write, operations: base.write.operations } };
  };

  it('a create holds available stock, takes the next id, moves nothing', () => {
    const write = writeOf(
      { action: 'stock.reserve', reservation: { kind: 'create', ttlSeconds: 900 }, reference: 'ORD-1' },
      [{ type: null, hold: 4, takesAvailable: true }],
    );
    const planned = plan(write, locked([[level(MAIN, 10), 10, 5]]), NOW, 0);
    expect(planned.movements).toEqual([]);
    expect([...planned.end]).toEqual([[level(MAIN, 10), { onHand: 10, reserved: 9 }]]);
    expect(planned.result.reservation).toEqual(
      expect.objectContaining({ id: 41, status: 'ACTIVE', reference: 'ORD-1', closedAt: null }),
    );
    expect(planned.result.reservation!.expiresAt).toBe(new Date(NOW.getTime() + 900_000).toISOString());
    expect(planned.result.levels[0]).toEqual(expect.objectContaining({ onHand: 10, reserved: 9, available: 1 }));
    expect(refusal(() => plan(write, locked([[level(MAIN, 10), 10, 7]]), NOW, 0))).toEqual({
      code: 'INSUFFICIENT_STOCK',
      details: { lines: [{ productId: 10, warehouse: 'MAIN', requested: 4, available: 3 }] },
    });
  });

  it('a confirm turns the hold into an OUT movement; a count that found less than held refuses it on on-hand', () => {
    const write = writeOf(
      { action: 'stock.reservation.confirm', reservation: { kind: 'confirm', record: record(5, 4) } },
      [{ type: 'OUT', delta: -4, hold: -4 }],
    );
    const planned = plan(write, locked([[level(MAIN, 10), 4, 6]], undefined, [active(5)]), NOW, 0);
    expect(planned.movements.map((m) => [m.type, m.quantity, m.balanceAfter])).toEqual([['OUT', -4, 0]]);
    expect([...planned.end]).toEqual([[level(MAIN, 10), { onHand: 0, reserved: 2 }]]);
    expect(planned.reservation).toEqual({
      created: false,
      record: expect.objectContaining({ status: 'CONFIRMED', closedAt: NOW }),
    });
    expect(refusal(() => plan(write, locked([[level(MAIN, 10), 3, 6]], undefined, [active(5)]), NOW, 0))).toEqual({
      code: 'INSUFFICIENT_STOCK',
      details: { lines: [{ productId: 10, warehouse: 'MAIN', requested: 4, available: 3 }] },
    });
  });

  it('a reservation that is not ACTIVE, or whose time is up, is RESERVATION_NOT_ACTIVE naming its status', () => {
    const cancel = writeOf(
      { action: 'stock.reservation.cancel', reservation: { kind: 'cancel', record: record(5, 1) } },
      [{ type: null, hold: -1 }],
    );
    const at = (state: [number, ReservationState]) => locked([[level(MAIN, 10), 5, 1]], undefined, [state]);
    expect(refusal(() => plan(cancel, at([5, { status: 'CONFIRMED', expiresAt: NOW }]), NOW, 0))).toEqual({
      code: 'RESERVATION_NOT_ACTIVE',
      details: { status: 'CONFIRMED' },
    });
    expect(refusal(() => plan(cancel, at(active(5, 0)), NOW, 0))).toEqual({
      code: 'RESERVATION_NOT_ACTIVE',
      details: { status: 'EXPIRED' },
    });
    expect(plan(cancel, at(active(5, 1)), NOW, 0).reservation!.record.status).toBe('CANCELLED');
  });

  it('an expiry ends only an ACTIVE reservation whose time is up, and only one it could lock', () => {
    const expire = writeOf(
      { action: 'stock.reservation.expire', reservation: { kind: 'expire', record: record(5, 1) } },
      [{ type: null, hold: -1 }],
    );
    const at = (states: [number, ReservationState][]) => locked([[level(MAIN, 10), 5, 1]], undefined, states);
    expect(plan(expire, at([active(5, 0)]), NOW, 0).reservation!.record.status).toBe('EXPIRED');
    expect(refusal(() => plan(expire, at([active(5, 1)]), NOW, 0)).code).toBe('RESERVATION_NOT_ACTIVE');
    expect(refusal(() => plan(expire, at([]), NOW, 0)).code).toBe('RESERVATION_NOT_ACTIVE'); // another instance holds it
  });

  it('statusAt: ACTIVE until expiresAt, EXPIRED from it', () => {
    expect(statusAt({ status: 'ACTIVE', expiresAt: new Date(NOW.getTime() + 1) }, NOW)).toBe('ACTIVE');
    expect(statusAt({ status: 'ACTIVE', expiresAt: NOW }, NOW)).toBe('EXPIRED');
    expect(statusAt({ status: 'CANCELLED', expiresAt: NOW }, NOW)).toBe('CANCELLED');
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
