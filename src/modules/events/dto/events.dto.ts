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
