import { RequestContext } from '../../common/decorators/auth.decorators';
import { ApiError } from '../../common/errors/api-error';
import { MAX_LEVEL } from '../../common/quantities';
import { PLACEHOLDER_ID } from '../../database/dialect';
import { ProductRef, productNotFound } from '../products/product-ref';
import { AdjustReason, MovementType } from './entities/stock-movement.entity';
import { LevelKey, levelKeyOf } from './levels/level-key';
import { NewMovement } from './stock.repository';
import { LevelView, MovementView, toMovementView } from './stock.views';

/** One change to one level. `delta` is signed; `countedQuantity` sets the level (a stock count). */
export interface StockOperation {
  type: MovementType;
  product: ProductRef;
  warehouse?: string;
  delta?: number;
  countedQuantity?: number;
}

export interface StockWrite {
  action: 'stock.in' | 'stock.out' | 'stock.adjust' | 'stock.transfer' | 'stock.batch';
  operations: StockOperation[];
  reference?: string | null;
  note?: string | null;
  reason?: AdjustReason | null;
}

export interface StockResult {
  movements: MovementView[];
  /** The level after the write, one per operation, in operation order. */
  levels: LevelView[];
}

/** A write with every name resolved (they need no lock): one warehouse, product id and level per operation. */
export interface ResolvedWrite {
  ctx: RequestContext;
  write: StockWrite;
  warehouses: { id: number; code: string }[];
  productIds: number[];
  keys: LevelKey[];
}

/** What a group's locking reads found: the SKU of each active product, and each level's on-hand. */
export interface Locked {
  skus: Map<number, string>;
  onHand: Map<string, number>;
}

export interface Plan {
  /** The answer's material; its movement ids are PLACEHOLDER_IDs, numbered from `firstMovement` within the group. */
  result: StockResult;
  movements: NewMovement[];
  /** Each level this write touches, as the write leaves it. */
  end: Map<string, number>;
}

/** The levels a write may add to: only there may a missing level row be created for it. */
export function levelsItMayAddTo({ write, keys }: ResolvedWrite): string[] {
  return write.operations.flatMap((op, i) =>
    op.countedQuantity !== undefined || op.delta! > 0 ? [levelKeyOf(keys[i])] : [],
  );
}

/**
 * One write of a group, on the locked balances the writes before it left (`onHand`; the caller keeps
 * `end` once the write is accepted): every line on a level counts before anything is checked. 404 for a
 * product that is unknown or archived; 409 for a level that would go below 0 or above 2^53-1.
 */
export function plan(
  { ctx, write, warehouses, productIds, keys }: ResolvedWrite,
  { skus, onHand }: Locked,
  now: Date,
  firstMovement: number,
): Plan {
  const missing = write.operations.findIndex((_, i) => !skus.has(productIds[i]));
  if (missing >= 0) throw productNotFound(write.operations[missing].product);

  const distinct = [...new Map(keys.map((k) => [levelKeyOf(k), k])).values()];
  const start = new Map(distinct.map((k) => [levelKeyOf(k), onHand.get(levelKeyOf(k))!]));
  const end = new Map(start);
  const movements = write.operations.map((op, i): NewMovement => {
    const key = levelKeyOf(keys[i]);
    const delta = op.countedQuantity !== undefined ? op.countedQuantity - end.get(key)! : op.delta!;
    end.set(key, end.get(key)! + delta);
    return {
      type: op.type,
      productId: productIds[i],
      warehouseId: keys[i].warehouseId,
      quantity: delta,
      balanceAfter: end.get(key)!,
      reference: write.reference ?? null,
      note: write.note ?? null,
      reason: write.reason ?? null,
      actorId: ctx.user.id,
      actorUsername: ctx.user.username,
      requestId: ctx.requestId,
      createdAt: now,
    };
  });
  assertWithinRange(distinct, start, end, (level) => warehouses[keys.findIndex((k) => sameLevel(k, level))].code);

  const sku = (i: number) => skus.get(productIds[i])!;
  const result: StockResult = {
    movements: movements.map((m, i) =>
      toMovementView({ ...m, id: PLACEHOLDER_ID(firstMovement + i) }, sku(i), warehouses[i].code),
    ),
    levels: keys.map((key, i) => ({
      productId: key.productId,
      sku: sku(i),
      warehouse: warehouses[i].code,
      onHand: end.get(levelKeyOf(key))!,
      updatedAt: now.toISOString(),
    })),
  };
  return { result, movements, end };
}

const sameLevel = (a: LevelKey, b: LevelKey) => levelKeyOf(a) === levelKeyOf(b);

/** 409 INSUFFICIENT_STOCK listing every level that would go below 0, else QUANTITY_OUT_OF_RANGE for one above 2^53-1. */
export function assertWithinRange(
  levels: LevelKey[],
  start: Map<string, number>,
  end: Map<string, number>,
  warehouseCode: (level: LevelKey) => string,
): void {
  const short = levels.filter((k) => end.get(levelKeyOf(k))! < 0);
  if (short.length) {
    const lines = short.map((k) => {
      const available = start.get(levelKeyOf(k))!;
      return {
        productId: k.productId,
        warehouse: warehouseCode(k),
        requested: available - end.get(levelKeyOf(k))!,
        available,
      };
    });
    throw new ApiError('INSUFFICIENT_STOCK', 'Not enough stock', { lines });
  }
  const over = levels.find((k) => end.get(levelKeyOf(k))! > MAX_LEVEL);
  if (over) {
    throw new ApiError('QUANTITY_OUT_OF_RANGE', `A level cannot exceed ${MAX_LEVEL}`, {
      productId: over.productId,
      warehouse: warehouseCode(over),
    });
  }
}
