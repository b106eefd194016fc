import { Column, Entity, Index } from 'typeorm';
import { BigIdColumn, bigintToNumber, jsonText, LongTextColumn, TIMESTAMP } from '../../../database/columns';

export const EVENT_TYPES = [
  'stock.movement',
  'stock.low',
  'stock.restocked',
  'reservation.created',
  'reservation.confirmed',
  'reservation.cancelled',
  'reservation.expired',
  'product.created',
  'product.updated',
  'product.archived',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * The outbox: one row per event, inserted in the transaction of its change. `id` orders the events of
 * one transaction; `position` — the event's id in the feed — is handed out after COMMIT by the
 * sequencer (event-sequencer.service.ts), in commit order, and is null until then.
 */
@Entity('events')
@Index('IDX_events_position', ['position'])
@Index('IDX_events_occurred_at', ['occurredAt'])
export class OutboxEvent {
  @BigIdColumn() id!: number;
  @Column({ type: 'bigint', nullable: true, default: null, transformer: bigintToNumber }) position!: number | null;
  @Column({ type: 'varchar', length: 32 }) type!: EventType;
  /** The ids of the products it is an event of, comma-separated: each one's events reach a webhook in order. */
  @Column({ type: 'text' }) products!: string;
  @Column({ name: 'occurred_at', ...TIMESTAMP }) occurredAt!: Date;
  @LongTextColumn({ transformer: jsonText }) data!: object;
}
