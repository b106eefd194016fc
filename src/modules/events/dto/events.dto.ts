import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { MAX_PAGE_SIZE } from '../../../common/http/pagination';
import { EVENT_TYPES, EventType } from '../entities/outbox-event.entity';

export class EventsQuery {
  /** The last event id the client has seen (the previous page's nextCursor). */
  @IsOptional() @Matches(/^\d{1,15}$/, { message: 'after must be an event id' }) after?: string;
  @IsOptional() @IsIn(EVENT_TYPES) type?: EventType;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(MAX_PAGE_SIZE) limit?: number;
}

/** One event of the feed (the shape the events repository builds). */
export class EventItemView {
  @ApiProperty({ description: 'Sorts in commit order (digits: compare as numbers)' }) id!: string;
  @ApiProperty({ enum: EVENT_TYPES, enumName: 'EventType' }) type!: EventType;
  @ApiProperty({ format: 'date-time' }) occurredAt!: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description:
      'stock.movement: the movement; stock.low/restocked: {productId, sku, available, reorderPoint}; ' +
      'reservation.*: the reservation; product.*: the product as GET /api/products/{id} shows it',
  })
  data!: object;
}

export class EventPageView {
  @ApiProperty({ type: [EventItemView] }) items!: EventItemView[];
  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'The last item’s id, even on the last page (poll with after=<nextCursor>); no items: the after given, or null',
  })
  nextCursor!: string | null;
}
