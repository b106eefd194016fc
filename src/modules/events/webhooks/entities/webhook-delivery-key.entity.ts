import { Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintToNumber } from '../../../../database/columns';

/**
 * The products of a PENDING delivery in its products' order, one row each — a reservation is an event of
 * each of its products. When the delivery is done (DELIVERED or FAILED) its rows go, and the next
 * delivery of each of its products (the next row by position) waits for one product fewer.
 */
@Entity('webhook_delivery_keys')
@Index('IDX_webhook_delivery_keys_delivery', ['webhookId', 'eventPosition'])
export class WebhookDeliveryKey {
  @PrimaryColumn({ name: 'webhook_id', type: 'int' }) webhookId!: number;
  @PrimaryColumn({ name: 'product_id', type: 'int' }) productId!: number;
  @PrimaryColumn({ name: 'event_position', type: 'bigint', transformer: bigintToNumber }) eventPosition!: number;
}
