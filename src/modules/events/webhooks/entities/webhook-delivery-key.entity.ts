import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintToNumber } from '../../../../database/columns';

/**
 * The products of a PENDING delivery, one row each: a delivery may go out only when no PENDING delivery of
 * the same webhook with an older event shares one of its products — so each product's events reach a
 * webhook in order, a reservation's (an event of each of its products) included. Removed once the
 * delivery is DELIVERED or FAILED.
 */
@Entity('webhook_delivery_keys')
@Index('IDX_webhook_delivery_keys_delivery', ['webhookId', 'eventPosition'])
export class WebhookDeliveryKey {
  @PrimaryColumn({ name: 'webhook_id', type: 'int' }) webhookId!: number;
  @PrimaryColumn({ name: 'product_id', type: 'int' }) productId!: number;
  @PrimaryColumn({ name: 'event_position', type: 'bigint', transformer: bigintToNumber }) eventPosition!: number;
}
