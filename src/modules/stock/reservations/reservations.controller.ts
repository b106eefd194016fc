import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ReqContext, RequestContext, Roles } from '../../../common/decorators/auth.decorators';
import { IdParamPipe } from '../../../common/http/id-param.pipe';
import { NoFieldsPipe } from '../../../common/http/validation.pipe';
import { PageOf } from '../../../common/http/pagination';
import { ROLE_RULES } from '../../../common/roles';
import { ApiIdempotencyKey } from '../idempotency-key';
import { idempotencyOf } from '../idempotency-key';
import { CreateReservationDto, ReservationsQuery } from './dto/reservation.dto';
import { ReservationConfirmView, ReservationView, ReservationWriteView } from './reservation.views';
import { ReservationsService } from './reservations.service';

@Controller('api/stock/reservations')
export class ReservationsController {
  constructor(private readonly reservations: ReservationsService) {}

  @Post()
  @Roles(ROLE_RULES.stockWrite)
  @ApiOperation({
    summary: 'Reserve stock',
    description: 'Holds available stock for ttlSeconds (default 900); all or nothing. No movement is written.',
  })
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ type: ReservationWriteView })
  create(
    @ReqContext() ctx: RequestContext,
    @Body() dto: CreateReservationDto,
    @Headers('idempotency-key') key: string | undefined,
    @Req() req: FastifyRequest,
  ) {
    return this.reservations.create(ctx, dto, idempotencyOf('reserve', key, req.body));
  }

  @Post(':id/confirm')
  @Roles(ROLE_RULES.stockWrite)
  @ApiOperation({ summary: 'Confirm a reservation', description: 'One OUT movement per line; the hold is released.' })
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ type: ReservationConfirmView })
  confirm(
    @ReqContext() ctx: RequestContext,
    @Param('id', IdParamPipe) id: number,
    @Body(NoFieldsPipe) _body: unknown,
    @Headers('idempotency-key') key: string | undefined,
  ) {
    return this.reservations.confirm(ctx, id, idempotencyOf('reserve.confirm', key, { id }));
  }

  @Post(':id/cancel')
  @Roles(ROLE_RULES.stockWrite)
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a reservation', description: 'The hold is released; nothing moves.' })
  @ApiIdempotencyKey()
  @ApiOkResponse({ type: ReservationWriteView })
  cancel(
    @ReqContext() ctx: RequestContext,
    @Param('id', IdParamPipe) id: number,
    @Body(NoFieldsPipe) _body: unknown,
    @Headers('idempotency-key') key: string | undefined,
  ) {
    return this.reservations.cancel(ctx, id, idempotencyOf('reserve.cancel', key, { id }));
  }

  @Get()
  @Roles(ROLE_RULES.read)
  @ApiOperation({ summary: 'List reservations, newest first' })
  @ApiOkResponse({ type: PageOf(ReservationView) })
  list(@Query() query: ReservationsQuery) {
    return this.reservations.list(query);
  }

  @Get(':id')
  @Roles(ROLE_RULES.read)
  @ApiOperation({ summary: 'Get a reservation' })
  @ApiOkResponse({ type: ReservationView })
  get(@Param('id', IdParamPipe) id: number) {
    return this.reservations.get(id);
  }
}
