import { Controller, Get, Query } from '@nestjs/common';
import { Roles } from '../../common/decorators/auth.decorators';
import { ROLE_RULES } from '../../common/roles';
import { EventsQuery } from './dto/events.dto';
import { EventsService } from './events.service';

@Controller('api/events')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  @Get()
  @Roles(ROLE_RULES.manage)
  feed(@Query() query: EventsQuery) {
    return this.events.feed(query);
  }
}
