import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintToNumber, TIMESTAMP } from '../../../database/columns';

/**
 * How far a destination that takes every event in order (the RabbitMQ publisher) has got, and which
 * instance holds it: one publisher at a time, taken over when its lease runs out.
 */
@Entity('outbox_cursors')
export class OutboxCursor {
  @PrimaryColumn({ type: 'varchar', length: 64 }) name!: string;
  /** The last event position it has finished with. */
  @Column({ type: 'bigint', transformer: bigintToNumber }) position!: number;
  @Column({ name: 'lease_owner', type: 'varchar', length: 64, nullable: true, default: null }) leaseOwner!:
    string | null;
  @Column({ name: 'lease_until', ...TIMESTAMP, nullable: true, default: null }) leaseUntil!: Date | null;
}
