/** One level: a product in a warehouse. */
export interface LevelKey {
  warehouseId: number;
  productId: number;
}

/** A level's quantities: on hand, and held for reservations (available = onHand - reserved). */
export interface LevelState {
  onHand: number;
  reserved: number;
}

export function levelKeyOf(key: LevelKey): string {
  return `${key.warehouseId}:${key.productId}`;
}

/** The one order every stock write locks levels in: ascending (warehouse, product). */
export const levelOrder = (a: LevelKey, b: LevelKey) => a.warehouseId - b.warehouseId || a.productId - b.productId;
