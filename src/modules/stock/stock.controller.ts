import { Body, Controller, Get, Headers, Post, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ReqContext, RequestContext, Roles } from '../../common/decorators/auth.decorators';
import { ROLE_RULES } from '../../common/roles';
import { AdjustDto, BatchDto, LevelsQuery, MovementsQuery, StockMoveDto, TransferDto } from './dto/stock.dto';
import { idempotencyOf } from './idempotency-key';
import { StockService } from './stock.service';

@Controller('api/stock')
export class StockController {
  constructor(private readonly stock: StockService) {}

  @Post('in')
  @Roles(ROLE_RULES.stockWrite)
  receive(
    @ReqContext() ctx: RequestContext,
    @Body() dto: StockMoveDto,
    @Headers('idempotency-key') key: string | undefined,
    @Req() req: FastifyRequest,
  ) {
    return this.stock.receive(ctx, dto, idempotencyOf('in', key, req.body));
  }

  @Post('out')
  @Roles(ROLE_RULES.stockWrite)
  issue(
    @ReqContext() ctx: RequestContext,
    @Body() dto: StockMoveDto,
    @Headers('idempotency-key') key: string | undefined,
    @Req() req: FastifyRequest,
  ) {
    return this.stock.issue(ctx, dto, idempotencyOf('out', key, req.body));
  }

  @Post('adjust')
  @Roles(ROLE_RULES.manage)
  adjust(
    @ReqContext() ctx: RequestContext,
    @Body() dto: AdjustDto,
    @Headers('idempotency-key') key: string | undefined,
    @Req() req: FastifyRequest,
  ) {
    return this.stock.adjust(ctx, dto, idempotencyOf('adjust', key, req.body));
  }

  @Post('transfer')
  @Roles(ROLE_RULES.stockWrite)
  transfer(
    @ReqContext() ctx: RequestContext,
    @Body() dto: TransferDto,
    @Headers('idempotency-key') key: string | undefined,
    @Req() req: FastifyRequest,
  ) {
    return this.stock.transfer(ctx, dto, idempotencyOf('transfer', key, req.body));
  }

  @Post('batch')
  @Roles(ROLE_RULES.stockWrite)
  batch(
    @ReqContext() ctx: RequestContext,
    @Body() dto: BatchDto,
    @Headers('idempotency-key') key: string | undefined,
    @Req() req: FastifyRequest,
  ) {
    return this.stock.batch(ctx, dto, idempotencyOf('batch', key, req.body));
  }

  @Get()
  @Roles(ROLE_RULES.read)
  levels(@Query() query: LevelsQuery) {
    return this.stock.levels(query);
  }

  @Get('movements')
  @Roles(ROLE_RULES.read)
  movements(@Query() query: MovementsQuery) {
    return this.stock.movements(query);
  }

  @Get('reconcile')
  @Roles(ROLE_RULES.manage)
  reconcile() {
    return this.stock.reconcile();
  }
}
