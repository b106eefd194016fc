import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ReqContext, RequestContext, Roles } from '../../../common/decorators/auth.decorators';
import { IdParamPipe } from '../../../common/http/id-param.pipe';
import { NoFieldsPipe } from '../../../common/http/validation.pipe';
import { ROLE_RULES } from '../../../common/roles';
import { idempotencyOf } from '../idempotency-key';
import { CreateReservationDto, ReservationsQuery } from './dto/reservation.dto';
import { ReservationsService } from './reservations.service';

@Controller('api/stock/reservations')
export class ReservationsController {
  constructor(private readonly reservations: ReservationsService) {}

  @Post()
  @Roles(ROLE_RULES.stockWrite)
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
  list(@Query() query: ReservationsQuery) {
    return this.reservations.list(query);
  }

  @Get(':id')
  @Roles(ROLE_RULES.read)
  get(@Param('id', IdParamPipe) id: number) {
    return this.reservations.get(id);
  }
}
