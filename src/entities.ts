import { Sequence } from './database/sequence.entity';
import { OutboxCursor } from './modules/events/entities/outbox-cursor.entity';
import { OutboxEvent } from './modules/events/entities/outbox-event.entity';
import { WebhookDeliveryKey } from './modules/events/webhooks/entities/webhook-delivery-key.entity';
import { WebhookDelivery } from './modules/events/webhooks/entities/webhook-delivery.entity';
import { Webhook } from './modules/events/webhooks/entities/webhook.entity';
import { AuditLog } from './modules/audit/entities/audit-log.entity';
import { Product } from './modules/products/entities/product.entity';
import { ProductTerm } from './modules/products/entities/product-term.entity';
import { IdempotencyKey } from './modules/stock/entities/idempotency-key.entity';
import { StockLevel } from './modules/stock/levels/entities/stock-level.entity';
import { StockMovement } from './modules/stock/entities/stock-movement.entity';
import { ReservationLine } from './modules/stock/reservations/entities/reservation-line.entity';
import { Reservation } from './modules/stock/reservations/entities/reservation.entity';
import { User } from './modules/users/entities/user.entity';
import { Warehouse } from './modules/warehouses/entities/warehouse.entity';

/** Every table, for the service, the CLI, the TypeORM CLI and the schema test (database/ names no feature). */
export const ENTITIES = [
  User,
  Warehouse,
  Product,
  ProductTerm,
  StockLevel,
  StockMovement,
  IdempotencyKey,
  AuditLog,
  Reservation,
  ReservationLine,
  Sequence,
  OutboxEvent,
  OutboxCursor,
  Webhook,
  WebhookDelivery,
  WebhookDeliveryKey,
];
