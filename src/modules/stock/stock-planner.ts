import { RequestContext } from '../../common/decorators/auth.decorators';
import { ApiError } from '../../common/errors/api-error';
import { MAX_LEVEL } from '../../common/quantities';
import { PLACEHOLDER_ID } from '../../database/dialect';
import { ProductRef, productNotFound } from '../products/product-ref';
import { AdjustReason, MovementType } from './entities/stock-movement.entity';
import { LevelKey, levelKeyOf, LevelState } from './levels/level-key';
import { ReservationStatus } from './reservations/entities/reservation.entity';
import { ReservationState } from './reservations/reservations.repository';
import { ReservationRecord, ReservationView, toReservationView } from './reservations/reservation.views';
import { NewMovement } from './stock.repository';
import { LevelView, MovementView, toMovementView } from './stock.views';

/**
 * One change to one level. `delta` changes on-hand and records a movement of `type`; `countedQuantity`
 * sets on-hand (a stock count); `hold` changes the reserved quantity and records no movement.
 */
export interface StockOperation {
  /** The movement it records; null for a change of the hold alone (reserve, release). */
  type: MovementType | null;
  product: ProductRef;
  warehouse?: string;
  delta?: number;
  countedQuantity?: number;
  hold?: number;
  /**
   * Takes only what is available (on-hand less reserved): out, transfer, batch OUT and reserve. Anything
   * else (adjust, a confirmed reservation's OUT) needs only on-hand to stay at 0 or above.
   */
  takesAvailable?: boolean;
}

export type StockAction =
  | 'stock.in'
  | 'stock.out'
  | 'stock.adjust'
  | 'stock.transfer'
  | 'stock.batch'
  | 'stock.reserve'
  | 'stock.reservation.confirm'
  | 'stock.reservation.cancel'
  | 'stock.reservation.expire';

/** What a reservation write does: create one (its lines are the operations), or end an ACTIVE one. */
export type ReservationChange =
  { kind: 'create'; ttlSeconds: number } | { kind: 'confirm' | 'cancel' | 'expire'; record: ReservationRecord };

export interface StockWrite {
  action: StockAction;
  operations: StockOperation[];
  reference?: string | null;
  note?: string | null;
  reason?: AdjustReason | null;
  reservation?: ReservationChange;
}

export interface StockResult {
  movements: MovementView[];
  /** The level after the write, one per operation, in operation order. */
  levels: LevelView[];
  /** The reservation as the write leaves it (reservation writes only). */
  reservation?: ReservationView;
}

/** A write with every name resolved (they need no lock): one warehouse, product id and level per operation. */
export interface ResolvedWrite {
  ctx: RequestContext;
  write: StockWrite;
  warehouses: { id: number; code: string }[];
  productIds: number[];
  keys: LevelKey[];
}

/** What a group's locking reads found, as the writes before this one left it. */
export interface Locked {
  /** The SKU of each active product; an archived or unknown one is absent. */
  skus: Map<number, string>;
  levels: Map<string, LevelState>;
  /** The locked reservations' state; one another instance is expiring is absent. */
  reservations: Map<number, ReservationState>;
  /** The id the next reservation created gets (locked only when the group creates one). */
  nextReservationId?: number;
}

export interface Plan {
  /** The answer's material; its movement ids are PLACEHOLDER_IDs, numbered from `firstMovement` within the group. */
  result: StockResult;
  movements: NewMovement[];
  /** Each level this write touches, as the write leaves it. */
  end: Map<string, LevelState>;
  /** The reservation the write creates, or the one it ends (with its new status), as it leaves it. */
  reservation?: { created: boolean; record: ReservationRecord };
}

const CLOSING_STATUS = { confirm: 'CONFIRMED', cancel: 'CANCELLED', expire: 'EXPIRED' } as const;

/** The levels a write may add to: only there may a missing level row be created for it. */
export function levelsItMayAddTo({ write, keys }: ResolvedWrite): string[] {
  return write.operations.flatMap((op, i) =>
    op.countedQuantity !== undefined || (op.delta ?? 0) > 0 ? [levelKeyOf(keys[i])] : [],
  );
}

/**
 * A reservation's status as a write sees it at `now`: an ACTIVE one past its expiry is EXPIRED already,
 * whether or not the sweep has run. One the group could not lock (another instance is expiring it) is
 * absent: EXPIRED too.
 */
export function statusAt(state: ReservationState | undefined, now: Date): ReservationStatus {
  if (!state) return 'EXPIRED';
  return state.status === 'ACTIVE' && state.expiresAt.getTime() <= now.getTime() ? 'EXPIRED' : state.status;
}

/**
 * One write of a group, on the locked state the writes before it left (the caller keeps `end` and the
 * reservation once the write is accepted): every line on a level counts before anything is checked.
 * 404 for a product that is unknown or archived; 409 for a level that would go below 0 (or below its
 * reserved quantity, for what takes available stock) or above 2^53-1, and for a reservation that is
 * not ACTIVE.
 */
export function plan(
  { ctx, write, warehouses, productIds, keys }: ResolvedWrite,
  locked: Locked,
  now: Date,
  firstMovement: number,
): Plan {
  const change = write.reservation;
  if (change && change.kind !== 'create') {
    const state = locked.reservations.get(change.record.id);
    const status = statusAt(state, now);
    // expiry ends an ACTIVE reservation whose time is up; confirm and cancel, one whose time is not
    const allowed = change.kind === 'expire' ? state?.status === 'ACTIVE' && status === 'EXPIRED' : status === 'ACTIVE';
    if (!allowed) throw new ApiError('RESERVATION_NOT_ACTIVE', `The reservation is ${status}`, { status });
  }
  // a product with reserved stock cannot be archived, so a hold always names an active one
  const missing = write.operations.findIndex((_, i) => !locked.skus.has(productIds[i]));
  if (missing >= 0) throw productNotFound(write.operations[missing].product);

  const distinct = [...new Map(keys.map((k) => [levelKeyOf(k), k])).values()];
  const start = new Map(distinct.map((k) => [levelKeyOf(k), locked.levels.get(levelKeyOf(k))!]));
  const end = new Map([...start].map(([key, state]) => [key, { ...state }]));
  const takers = new Set<string>();
  const movements: NewMovement[] = [];
  const moved: number[] = [];
  write.operations.forEach((op, i) => {
    const key = levelKeyOf(keys[i]);
    const level = end.get(key)!;
    const delta = op.countedQuantity !== undefined ? op.countedQuantity - level.onHand : (op.delta ?? 0);
    level.onHand += delta;
    level.reserved += op.hold ?? 0;
    if (op.takesAvailable) takers.add(key);
    if (op.type === null) return;
    moved.push(i);
    movements.push({
      type: op.type,
      productId: productIds[i],
      warehouseId: keys[i].warehouseId,
      quantity: delta,
      balanceAfter: level.onHand,
      reference: write.reference ?? null,
      note: write.note ?? null,
      reason: write.reason ?? null,
      actorId: ctx.user.id,
      actorUsername: ctx.user.username,
      requestId: ctx.requestId,
      createdAt: now,
    });
  });
  assertWithinRange(
    distinct,
    start,
    end,
    takers,
    (level) => warehouses[keys.findIndex((k) => sameLevel(k, level))].code,
  );

  const sku = (i: number) => locked.skus.get(productIds[i])!;
  const result: StockResult = {
    movements: movements.map((m, j) =>
      toMovementView({ ...m, id: PLACEHOLDER_ID(firstMovement + j) }, sku(moved[j]), warehouses[moved[j]].code),
    ),
    levels: keys.map((key, i) => {
      const level = end.get(levelKeyOf(key))!;
      return {
        productId: key.productId,
        sku: sku(i),
        warehouse: warehouses[i].code,
        onHand: level.onHand,
        reserved: level.reserved,
        available: level.onHand - level.reserved,
        updatedAt: now.toISOString(),
      };
    }),
  };
  if (!change) return { result, movements, end };
  const record: ReservationRecord =
    change.kind === 'create'
      ? {
          id: locked.nextReservationId!,
          status: 'ACTIVE',
          lines: write.operations.map((op, i) => ({
            productId: productIds[i],
            sku: sku(i),
            warehouse: warehouses[i].code,
            warehouseId: warehouses[i].id,
            quantity: op.hold!,
          })),
          reference: write.reference ?? null,
          note: write.note ?? null,
          expiresAt: new Date(now.getTime() + change.ttlSeconds * 1000),
          createdAt: now,
          createdBy: { id: ctx.user.id, username: ctx.user.username },
          closedAt: null,
        }
      : { ...change.record, status: CLOSING_STATUS[change.kind], closedAt: now };
  result.reservation = toReservationView(record);
  return { result, movements, end, reservation: { created: change.kind === 'create', record } };
}

const sameLevel = (a: LevelKey, b: LevelKey) => levelKeyOf(a) === levelKeyOf(b);

/**
 * 409 INSUFFICIENT_STOCK listing every level that would go short — below 0 on hand, or, where the write
 * takes available stock (`takers`), below its reserved quantity — else QUANTITY_OUT_OF_RANGE for one
 * above 2^53-1. A line says what was requested of the level and what it had: available stock for a
 * taker, on-hand otherwise.
 */
export function assertWithinRange(
  levels: LevelKey[],
  start: Map<string, LevelState>,
  end: Map<string, LevelState>,
  takers: Set<string>,
  warehouseCode: (level: LevelKey) => string,
): void {
  const counted = (key: string, state: LevelState) => (takers.has(key) ? state.onHand - state.reserved : state.onHand);
  const short = levels.filter((k) => {
    const key = levelKeyOf(k);
    return end.get(key)!.onHand < 0 || counted(key, end.get(key)!) < 0;
  });
  if (short.length) {
    const lines = short.map((k) => {
      const key = levelKeyOf(k);
      const available = counted(key, start.get(key)!);
      return {
        productId: k.productId,
        warehouse: warehouseCode(k),
        requested: available - counted(key, end.get(key)!),
        available,
      };
    });
    throw new ApiError('INSUFFICIENT_STOCK', 'Not enough stock', { lines });
  }
  const over = levels.find((k) => end.get(levelKeyOf(k))!.onHand > MAX_LEVEL);
  if (over) {
    throw new ApiError('QUANTITY_OUT_OF_RANGE', `A level cannot exceed ${MAX_LEVEL}`, {
      productId: over.productId,
      warehouse: warehouseCode(over),
    });
  }
}
