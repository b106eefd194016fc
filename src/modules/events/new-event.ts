import { EventType } from './entities/outbox-event.entity';

/** An event as a change writes it into the outbox, in the change's transaction. */
export interface NewEvent {
  type: EventType;
  /** The products it is an event of: each one's events reach a webhook in order (webhook-delivery.worker.ts). */
  products: number[];
  /** What the feed and the receivers get as `data`; placeholder ids are filled in on INSERT (dialect.ts). */
  data: object;
}

/** A product as the low-stock rule sees it. */
export interface StockThreshold {
  productId: number;
  sku: string;
  reorderPoint: number;
}

/** Low: the product's total available over all warehouses is at or below its reorderPoint. */
export const isLow = (available: number, reorderPoint: number) => available <= reorderPoint;

/**
 * `stock.low` when a change takes the product's total available from above its reorderPoint to at or
 * below it, `stock.restocked` the other way, nothing when it stays on one side.
 */
export function thresholdEvent(
  product: StockThreshold,
  before: { available: number; reorderPoint: number },
  available: number,
): NewEvent | null {
  const wasLow = isLow(before.available, before.reorderPoint);
  const low = isLow(available, product.reorderPoint);
  if (wasLow === low) return null;
  return {
    type: low ? 'stock.low' : 'stock.restocked',
    products: [product.productId],
    data: { productId: product.productId, sku: product.sku, available, reorderPoint: product.reorderPoint },
  };
}
