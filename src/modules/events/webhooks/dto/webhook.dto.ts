import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  MaxLength,
} from 'class-validator';
import { Optional } from '../../../../common/http/optional';
import { PageQuery } from '../../../../common/http/pagination';
import { EVENT_TYPES } from '../../entities/outbox-event.entity';
import { DELIVERY_STATUSES, DeliveryStatus } from '../entities/webhook-delivery.entity';
import { Webhook } from '../entities/webhook.entity';
import { WebhookDelivery } from '../entities/webhook-delivery.entity';

export const WEBHOOK_EVENTS = ['*', ...EVENT_TYPES] as const;

export class CreateWebhookDto {
  /** http(s); checked further by the service (SSRF guard). */
  @IsString() @MaxLength(2048) url!: string;
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(WEBHOOK_EVENTS.length)
  @ArrayUnique()
  @IsIn(WEBHOOK_EVENTS, { each: true })
  events!: string[];
  @IsOptional() @IsString() @MaxLength(2000) description?: string;
}

export class UpdateWebhookDto {
  @Optional() @IsString() @MaxLength(2048) url?: string;
  @Optional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(WEBHOOK_EVENTS.length)
  @ArrayUnique()
  @IsIn(WEBHOOK_EVENTS, { each: true })
  events?: string[];
  @IsOptional() @IsString() @MaxLength(2000) description?: string | null;
  @Optional() @IsBoolean() enabled?: boolean;
}

export class DeliveriesQuery extends PageQuery {
  @IsOptional() @IsIn(DELIVERY_STATUSES) status?: DeliveryStatus;
}

export interface WebhookView {
  id: number;
  url: string;
  events: string[];
  description: string | null;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export const toWebhookView = (w: Webhook): WebhookView => ({
  id: w.id,
  url: w.url,
  events: w.events,
  description: w.description,
  enabled: Boolean(w.enabled),
  createdAt: w.createdAt.toISOString(),
  updatedAt: w.updatedAt.toISOString(),
});

export interface DeliveryView {
  id: number;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
}

export const toDeliveryView = (d: WebhookDelivery): DeliveryView => ({
  id: d.id,
  eventId: String(d.eventPosition),
  eventType: d.eventType,
  status: d.status,
  attempts: d.attempts,
  lastStatusCode: d.lastStatusCode,
  lastError: d.lastError,
  nextAttemptAt: d.status === 'PENDING' && d.nextAttemptAt ? d.nextAttemptAt.toISOString() : null,
  deliveredAt: d.deliveredAt?.toISOString() ?? null,
});
