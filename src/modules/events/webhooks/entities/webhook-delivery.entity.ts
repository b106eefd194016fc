import { Column, Entity, Index } from 'typeorm';
import { BigIdColumn, bigintToNumber, TIMESTAMP } from '../../../../database/columns';

export const DELIVERY_STATUSES = ['PENDING', 'DELIVERED', 'FAILED'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * One event for one webhook. PENDING until a 2xx (DELIVERED) or the last retry (FAILED). A worker that
 * takes it pushes `next_attempt_at` a lease ahead first: if the worker dies, the delivery falls due again.
 * `waits` counts its products that have a PENDING delivery of an older event for the same webhook
 * (webhook-delivery-key.entity.ts): it goes out only at 0, so each product's events arrive in order.
 */
@Entity('webhook_deliveries')
@Index('UQ_webhook_deliveries_event', ['webhookId', 'eventPosition'], { unique: true })
@Index('IDX_webhook_deliveries_due', ['status', 'waits', 'nextAttemptAt'])
@Index('IDX_webhook_deliveries_webhook', ['webhookId', 'status', 'id'])
@Index('IDX_webhook_deliveries_created', ['createdAt'])
export class WebhookDelivery {
  @BigIdColumn() id!: number;
  @Column({ name: 'webhook_id', type: 'int' }) webhookId!: number;
  @Column({ name: 'event_position', type: 'bigint', transformer: bigintToNumber }) eventPosition!: number;
  @Column({ name: 'event_type', type: 'varchar', length: 32 }) eventType!: string;
  @Column({ type: 'varchar', length: 16 }) status!: DeliveryStatus;
  @Column({ type: 'int' }) attempts!: number;
  @Column({ type: 'int' }) waits!: number;
  @Column({ name: 'last_status_code', type: 'int', nullable: true, default: null }) lastStatusCode!: number | null;
  @Column({ name: 'last_error', type: 'varchar', length: 500, nullable: true, default: null }) lastError!:
    string | null;
  @Column({ name: 'next_attempt_at', ...TIMESTAMP, nullable: true, default: null }) nextAttemptAt!: Date | null;
  @Column({ name: 'delivered_at', ...TIMESTAMP, nullable: true, default: null }) deliveredAt!: Date | null;
  @Column({ name: 'created_at', ...TIMESTAMP }) createdAt!: Date;
}
