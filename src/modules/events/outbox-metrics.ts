import { Injectable, OnModuleInit } from '@nestjs/common';
import { MetricsService } from '../../common/metrics/metrics.service';
import { EventsRepository } from './events.repository';
import { WebhooksRepository } from './webhooks/webhooks.repository';

/**
 * Feeds inventory_outbox_pending: events not placed yet, events not yet fanned out to an enabled webhook,
 * deliveries not done yet, and the broker's backlog.
 */
@Injectable()
export class OutboxMetrics implements OnModuleInit {
  /** Events the broker has not confirmed yet; set by the publisher when EVENTS_AMQP_URL is on. */
  brokerBacklog: () => Promise<number> = () => Promise.resolve(0);

  constructor(
    private readonly metrics: MetricsService,
    private readonly events: EventsRepository,
    private readonly webhooks: WebhooksRepository,
  ) {}

  onModuleInit(): void {
    this.metrics.outboxBacklog = async () => {
      const [unplaced, behind, deliveries, broker] = await Promise.all([
        this.events.countUnplaced(),
        this.webhooks.countBehind(),
        this.webhooks.countPending(),
        this.brokerBacklog(),
      ]);
      return unplaced + behind + deliveries + broker;
    };
  }
}
