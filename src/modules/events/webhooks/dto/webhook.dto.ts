import { ApiProperty } from '@nestjs/swagger';
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

// Answers are classes rather than interfaces so the OpenAPI document can describe them.

export class WebhookView {
  @ApiProperty({ type: 'integer' }) id!: number;
  @ApiProperty() url!: string;
  @ApiProperty({ enum: WEBHOOK_EVENTS, enumName: 'WebhookEvent', isArray: true }) events!: string[];
  @ApiProperty({ type: String, nullable: true }) description!: string | null;
  @ApiProperty() enabled!: boolean;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}

export class CreatedWebhookView {
  @ApiProperty({ type: WebhookView }) webhook!: WebhookView;
  @ApiProperty({ description: 'whsec_…, shown once: it signs every delivery (Standard Webhooks)' }) secret!: string;
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

export class DeliveryView {
  @ApiProperty({ type: 'integer' }) id!: number;
  @ApiProperty() eventId!: string;
  @ApiProperty({ enum: EVENT_TYPES, enumName: 'EventType' }) eventType!: string;
  @ApiProperty({ enum: DELIVERY_STATUSES, enumName: 'DeliveryStatus' }) status!: DeliveryStatus;
  @ApiProperty({ type: 'integer' }) attempts!: number;
  @ApiProperty({ type: 'integer', nullable: true, description: 'null when no HTTP answer came' })
  lastStatusCode!: number | null;
  @ApiProperty({ type: String, nullable: true }) lastError!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) nextAttemptAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) deliveredAt!: string | null;
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
