import { Injectable } from '@nestjs/common';
import { RequestContext } from '../../../common/decorators/auth.decorators';
import { ApiError } from '../../../common/errors/api-error';
import { decodeCursor, Page, PageQuery, pageSize, toPage } from '../../../common/http/pagination';
import { TransactionService } from '../../../database/transaction.service';
import { auditEntry } from '../../audit/audit-context';
import { AuditRepository } from '../../audit/audit.repository';
import {
  CreateWebhookDto,
  DeliveriesQuery,
  DeliveryView,
  toDeliveryView,
  toWebhookView,
  UpdateWebhookDto,
  WebhookView,
} from './dto/webhook.dto';
import { EventSequencer } from '../event-sequencer.service';
import { EventsRepository } from '../events.repository';
import { Webhook } from './entities/webhook.entity';
import { newSecret } from './signing';
import { WebhookDeliveryWorker } from './webhook-delivery.worker';
import { WebhookSecurity } from './webhook-security';
import { WebhooksRepository } from './webhooks.repository';

const notFound = (webhookId: number) => ApiError.notFound('Webhook', { webhookId });

/** Webhooks (admin): the secret is shown once, at creation, and kept sealed (secret-box.ts). */
@Injectable()
export class WebhooksService {
  constructor(
    private readonly webhooks: WebhooksRepository,
    private readonly security: WebhookSecurity,
    private readonly worker: WebhookDeliveryWorker,
    private readonly audit: AuditRepository,
    private readonly events: EventsRepository,
    private readonly sequencer: EventSequencer,
    private readonly tx: TransactionService,
  ) {}

  async create(ctx: RequestContext, dto: CreateWebhookDto): Promise<{ webhook: WebhookView; secret: string }> {
    await this.checkUrl(dto.url);
    await this.sequencer.drain(); // events committed before now get their positions first: none is the webhook's
    const secret = newSecret();
    const now = new Date();
    const webhook = await this.tx.run(async (manager) => {
      const row = await this.webhooks.insert(manager, {
        url: dto.url,
        events: dto.events,
        description: dto.description ?? null,
        enabled: true,
        sealedSecret: this.security.box.seal(secret),
        eventCursor: await this.events.lastPosition(manager), // the events from now on
        createdAt: now,
        updatedAt: now,
      });
      const view = toWebhookView(row);
      await this.audit.append(manager, auditEntry(ctx, 'webhook.create', 'webhook', row.id, null, view));
      return view;
    });
    return { webhook, secret };
  }

  async list(query: PageQuery): Promise<Page<WebhookView>> {
    const limit = pageSize(query);
    return toPage(await this.webhooks.list(decodeCursor(query.cursor), limit + 1), limit, toWebhookView);
  }

  async get(id: number): Promise<WebhookView> {
    return toWebhookView(await this.found(id));
  }

  async update(ctx: RequestContext, id: number, dto: UpdateWebhookDto): Promise<WebhookView> {
    if (dto.url !== undefined) await this.checkUrl(dto.url);
    if (dto.enabled === true) await this.sequencer.drain(); // see create
    return this.tx.run(async (manager) => {
      const webhook = await this.webhooks.lock(manager, id);
      if (!webhook) throw notFound(id);
      const changes: Partial<Webhook> = {};
      if (dto.url !== undefined) changes.url = dto.url;
      if (dto.events !== undefined) changes.events = dto.events;
      if (dto.description !== undefined) changes.description = dto.description;
      if (dto.enabled !== undefined) changes.enabled = dto.enabled;
      // enabled again: it gets the events from now on, not those of while it was off
      if (dto.enabled === true && !webhook.enabled) changes.eventCursor = await this.events.lastPosition(manager);
      if (!Object.keys(changes).length) return toWebhookView(webhook); // nothing asked: no change, no audit entry
      changes.updatedAt = new Date();
      await this.webhooks.update(manager, id, changes);
      const before = toWebhookView(webhook);
      const after = toWebhookView({ ...webhook, ...changes });
      await this.audit.append(manager, auditEntry(ctx, 'webhook.update', 'webhook', id, before, after));
      return after;
    });
  }

  /** Removes the webhook and its deliveries: nothing more is sent to it. */
  async delete(ctx: RequestContext, id: number): Promise<void> {
    await this.tx.run(async (manager) => {
      const webhook = await this.webhooks.lock(manager, id);
      if (!webhook) throw notFound(id);
      await this.webhooks.delete(manager, id);
      await this.audit.append(manager, auditEntry(ctx, 'webhook.delete', 'webhook', id, toWebhookView(webhook), null));
    });
  }

  async deliveries(id: number, query: DeliveriesQuery): Promise<Page<DeliveryView>> {
    await this.found(id);
    const limit = pageSize(query);
    const rows = await this.webhooks.listDeliveries(id, query.status, decodeCursor(query.cursor), limit + 1);
    return toPage(rows, limit, toDeliveryView);
  }

  /**
   * Sends a delivery again now: a FAILED one gets one more attempt, a DELIVERED one is sent once more
   * (both outside their products' order: a resend of an old event), a PENDING one is brought forward.
   */
  async retry(id: number, deliveryId: number): Promise<DeliveryView> {
    await this.found(id);
    const delivery = await this.webhooks.findDelivery(id, deliveryId);
    if (!delivery) throw ApiError.notFound('Delivery', { webhookId: id, deliveryId });
    await this.tx.runInline((tx) => tx.commitWith([this.webhooks.retry(delivery, new Date())]));
    this.worker.kick();
    return toDeliveryView((await this.webhooks.findDelivery(id, deliveryId))!);
  }

  private async found(id: number): Promise<Webhook> {
    const webhook = await this.webhooks.find(id);
    if (!webhook) throw notFound(id);
    return webhook;
  }

  private async checkUrl(url: string): Promise<void> {
    const problem = await this.security.guard.problem(url);
    if (problem) throw ApiError.validation({ url: [`url ${problem}`] });
  }
}
