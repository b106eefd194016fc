import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { Roles } from '../../common/decorators/auth.decorators';
import { ROLE_RULES } from '../../common/roles';
import { EventPageView, EventsQuery } from './dto/events.dto';
import { EventsService } from './events.service';

@Controller('api/events')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  @Get()
  @Roles(ROLE_RULES.manage)
  @ApiOperation({
    summary: 'Poll the event feed, oldest first',
    description: 'Poll with after=<nextCursor>: every event is seen exactly once, in commit order.',
  })
  @ApiOkResponse({ type: EventPageView })
  feed(@Query() query: EventsQuery) {
    return this.events.feed(query);
  }
}
