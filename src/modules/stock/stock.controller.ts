import { Body, Controller, Get, Headers, Post, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ReqContext, RequestContext, Roles } from '../../common/decorators/auth.decorators';
import { ApiError } from '../../common/errors/api-error';
import { ROLE_RULES } from '../../common/roles';
import { AdjustDto, BatchDto, LevelsQuery, MovementsQuery, StockMoveDto, TransferDto } from './dto/stock.dto';
import { Idempotency } from './idempotency.service';
import { StockService } from './stock.service';

const PRINTABLE_ASCII_KEY = /^[\x20-\x7e]{1,128}$/;

/** The Idempotency-Key of a stock POST, scoped to its route; 400 when present but malformed. */
function idempotency(route: string, key: string | undefined, request: FastifyRequest): Idempotency | undefined {
  if (key === undefined) return undefined;
  if (!PRINTABLE_ASCII_KEY.test(key)) {
    throw ApiError.validation({ 'Idempotency-Key': ['Idempotency-Key must be 1..128 printable ASCII characters'] });
  }
  return { route, key, body: request.body };
}

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
    return this.stock.receive(ctx, dto, idempotency('in', key, req));
  }

  @Post('out')
  @Roles(ROLE_RULES.stockWrite)
  issue(
    @ReqContext() ctx: RequestContext,
    @Body() dto: StockMoveDto,
    @Headers('idempotency-key') key: string | undefined,
    @Req() req: FastifyRequest,
  ) {
    return this.stock.issue(ctx, dto, idempotency('out', key, req));
  }

  @Post('adjust')
  @Roles(ROLE_RULES.manage)
  adjust(
    @ReqContext() ctx: RequestContext,
    @Body() dto: AdjustDto,
    @Headers('idempotency-key') key: string | undefined,
    @Req() req: FastifyRequest,
  ) {
    return this.stock.adjust(ctx, dto, idempotency('adjust', key, req));
  }

  @Post('transfer')
  @Roles(ROLE_RULES.stockWrite)
  transfer(
    @ReqContext() ctx: RequestContext,
    @Body() dto: TransferDto,
    @Headers('idempotency-key') key: string | undefined,
    @Req() req: FastifyRequest,
  ) {
    return this.stock.transfer(ctx, dto, idempotency('transfer', key, req));
  }

  @Post('batch')
  @Roles(ROLE_RULES.stockWrite)
  batch(
    @ReqContext() ctx: RequestContext,
    @Body() dto: BatchDto,
    @Headers('idempotency-key') key: string | undefined,
    @Req() req: FastifyRequest,
  ) {
    return this.stock.batch(ctx, dto, idempotency('batch', key, req));
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
