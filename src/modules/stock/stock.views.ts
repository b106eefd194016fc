import { StockMovement } from './entities/stock-movement.entity';

export interface MovementView {
  id: number;
  type: StockMovement['type'];
  productId: number;
  sku: string;
  warehouse: string;
  quantity: number;
  balanceAfter: number;
  reference: string | null;
  note: string | null;
  reason: StockMovement['reason'];
  actor: { id: number; username: string };
  requestId: string | null;
  createdAt: string;
}

export interface LevelView {
  productId: number;
  sku: string;
  warehouse: string;
  onHand: number;
  /** Held for ACTIVE reservations; available = onHand - reserved (below 0 after a count found less than is held). */
  reserved: number;
  available: number;
  updatedAt: string;
}

export function toMovementView(m: StockMovement, sku: string, warehouse: string): MovementView {
  return {
    id: m.id,
    type: m.type,
    productId: m.productId,
    sku,
    warehouse,
    quantity: m.quantity,
    balanceAfter: m.balanceAfter,
    reference: m.reference,
    note: m.note,
    reason: m.reason,
    actor: { id: m.actorId, username: m.actorUsername },
    requestId: m.requestId,
    createdAt: m.createdAt.toISOString(),
  };
}
