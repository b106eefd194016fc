import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { TIMESTAMP } from '../../../../database/columns';

export const RESERVATION_STATUSES = ['ACTIVE', 'CONFIRMED', 'CANCELLED', 'EXPIRED'] as const;
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number];

/**
 * Stock held for an order. Its id comes from the `reservations` sequence, taken under a row lock by the
 * write that creates it (sequences.ts): the id is known before COMMIT, in the answer and the audit entry.
 */
@Entity('reservations')
@Index('IDX_reservations_due', ['status', 'expiresAt'])
@Index('IDX_reservations_reference', ['reference'])
export class Reservation {
  @PrimaryColumn({ type: 'int' }) id!: number;
  @Column({ type: 'varchar', length: 16 }) status!: ReservationStatus;
  @Column({ type: 'varchar', length: 128, nullable: true, default: null }) reference!: string | null;
  @Column({ type: 'varchar', length: 500, nullable: true, default: null }) note!: string | null;
  @Column({ name: 'expires_at', ...TIMESTAMP }) expiresAt!: Date;
  @Column({ name: 'created_at', ...TIMESTAMP }) createdAt!: Date;
  @Column({ name: 'created_by_id', type: 'int' }) createdById!: number;
  @Column({ name: 'created_by_username', type: 'varchar', length: 64 }) createdByUsername!: string;
  /** When it left ACTIVE (confirmed, cancelled or expired). */
  @Column({ name: 'closed_at', ...TIMESTAMP, nullable: true, default: null }) closedAt!: Date | null;
}
