import { ApiProperty } from '@nestjs/swagger';
import { LevelView, MovementActor, MovementView } from '../stock.views';
import { RESERVATION_STATUSES, ReservationStatus } from './entities/reservation.entity';

// Classes rather than interfaces so the OpenAPI document can describe the answers.

export class ReservationLineView {
  @ApiProperty({ type: 'integer' }) productId!: number;
  @ApiProperty() sku!: string;
  @ApiProperty({ description: 'Warehouse code' }) warehouse!: string;
  @ApiProperty({ type: 'integer' }) quantity!: number;
}

/** A reservation as the API answers it. */
export class ReservationView {
  @ApiProperty({ type: 'integer' }) id!: number;
  @ApiProperty({ enum: RESERVATION_STATUSES, enumName: 'ReservationStatus' }) status!: ReservationStatus;
  @ApiProperty({ type: [ReservationLineView] }) lines!: ReservationLineView[];
  @ApiProperty({ type: String, nullable: true }) reference!: string | null;
  @ApiProperty({ type: String, nullable: true }) note!: string | null;
  @ApiProperty({ format: 'date-time' }) expiresAt!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ type: MovementActor }) createdBy!: { id: number; username: string };
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When it left ACTIVE' })
  closedAt!: string | null;
}

/** The answer of create and cancel. */
export class ReservationWriteView {
  @ApiProperty({ type: ReservationView }) reservation!: ReservationView;
  @ApiProperty({ type: [LevelView] }) levels!: LevelView[];
}

/** The answer of confirm: one OUT movement per line. */
export class ReservationConfirmView extends ReservationWriteView {
  @ApiProperty({ type: [MovementView] }) movements!: MovementView[];
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
