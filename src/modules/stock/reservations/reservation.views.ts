import { ReservationStatus } from './entities/reservation.entity';

export interface ReservationLineView {
  productId: number;
  sku: string;
  warehouse: string;
  quantity: number;
}

/** A reservation as the API answers it. */
export interface ReservationView {
  id: number;
  status: ReservationStatus;
  lines: ReservationLineView[];
  reference: string | null;
  note: string | null;
  expiresAt: string;
  createdAt: string;
  createdBy: { id: number; username: string };
  closedAt: string | null;
}

/** A stored reservation with its lines (which never change), each naming its level. */
export interface ReservationRecord {
  id: number;
  status: ReservationStatus;
  lines: (ReservationLineView & { warehouseId: number })[];
  reference: string | null;
  note: string | null;
  expiresAt: Date;
  createdAt: Date;
  createdBy: { id: number; username: string };
  closedAt: Date | null;
}

export function toReservationView(record: ReservationRecord): ReservationView {
  return {
    id: record.id,
    status: record.status,
    lines: record.lines.map(({ productId, sku, warehouse, quantity }) => ({ productId, sku, warehouse, quantity })),
    reference: record.reference,
    note: record.note,
    expiresAt: record.expiresAt.toISOString(),
    createdAt: record.createdAt.toISOString(),
    createdBy: record.createdBy,
    closedAt: record.closedAt?.toISOString() ?? null,
  };
}
