import { Injectable } from '@nestjs/common';
import { DEFAULT_PAGE_SIZE } from '../../common/http/pagination';
import { EventsQuery } from './dto/events.dto';
import { EventsRepository, EventView, toEventView } from './events.repository';

export interface EventPage {
  items: EventView[];
  /** The last item's id, even on the last page (poll with it); with no items, the `after` given, or null. */
  nextCursor: string | null;
}

@Injectable()
export class EventsService {
  constructor(private readonly events: EventsRepository) {}

  /** The feed, oldest first: only placed events, so polling with nextCursor sees each event exactly once. */
  async feed(query: EventsQuery): Promise<EventPage> {
    const after = query.after === undefined ? 0 : Number(query.after);
    const rows = await this.events.feed(after, query.type && [query.type], query.limit ?? DEFAULT_PAGE_SIZE);
    const items = rows.map(toEventView);
    return { items, nextCursor: items.length ? items[items.length - 1].id : (query.after ?? null) };
  }
}
