import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { AmqpPublisher } from './amqp-publisher.service';
import { EventRetention } from './event-retention.service';
import { EventSequencer } from './event-sequencer.service';
import { EventsController } from './events.controller';
import { EventsRepository } from './events.repository';
import { EventsService } from './events.service';
import { OutboxCursorsRepository } from './outbox-cursors.repository';
import { OutboxMetrics } from './outbox-metrics';
import { WebhookDeliveryWorker } from './webhooks/webhook-delivery.worker';
import { WebhookSecurity } from './webhooks/webhook-security';
import { WebhooksController } from './webhooks/webhooks.controller';
import { WebhooksRepository } from './webhooks/webhooks.repository';
import { WebhooksService } from './webhooks/webhooks.service';

/**
 * Events out: the outbox every change writes into (EventsRepository, used by the writers), the
 * sequencer that places committed events in the feed, the feed, webhooks and their delivery worker,
 * and the RabbitMQ publisher.
 */
@Module({
  imports: [AuditModule],
  controllers: [EventsController, WebhooksController],
  providers: [
    EventsRepository,
    EventsService,
    EventSequencer,
    EventRetention,
    OutboxMetrics,
    OutboxCursorsRepository,
    AmqpPublisher,
    WebhooksRepository,
    WebhooksService,
    WebhookSecurity,
    WebhookDeliveryWorker,
  ],
  exports: [EventsRepository, EventSequencer],
})
export class EventsModule {}
