import { Body, Controller, Get, Headers, Post, Query, Req, StreamableFile } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ReqContext, RequestContext, Roles } from '../../common/decorators/auth.decorators';
import { attachment, CSV_CONTENT_TYPE } from '../../common/http/csv';
import { ROLE_RULES } from '../../common/roles';
import { ExportMovementsQuery, MOVEMENT_CSV_COLUMNS } from './dto/export-movements.dto';
import { AdjustDto, BatchDto, LevelsQuery, MovementsQuery, StockMoveDto, TransferDto } from './dto/stock.dto';
import { idempotencyOf } from './idempotency-key';
import { MovementsExport } from './movements-export';
import { StockService } from './stock.service';

@Controller('api/stock')
export class StockController {
  constructor(
    private readonly stock: StockService,
    private readonly movementsExport: MovementsExport,
  ) {}

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

  @Get('movements/export.csv')
  @Roles(ROLE_RULES.read)
  @ApiOperation({
    summary: 'Export movements as CSV',
    description:
      'Every movement the list filters keep (productId, sku, warehouse, type, from, to), newest first, streamed ' +
      `as RFC 4180 CSV with a header row and CRLF line ends: ${MOVEMENT_CSV_COLUMNS.join(',')}. actor is the ` +
      'username; createdAt is ISO-8601 UTC. An empty cell is null. Text starting with =, +, -, @, tab or ' +
      "carriage return gets a leading ' (no formulas in spreadsheets); numbers (a negative quantity) are written " +
      'as they are. A failure after the first bytes cuts the transfer short instead of answering an error body.',
  })
  @ApiProduces('text/csv')
  @ApiOkResponse({
    description: 'The CSV file, as an attachment named movements.csv',
    content: { 'text/csv': { schema: { type: 'string', example: `${MOVEMENT_CSV_COLUMNS.join(',')}\r\n` } } },
    headers: {
      'Content-Disposition': { description: 'attachment; filename="movements.csv"', schema: { type: 'string' } },
    },
  })
  async exportMovements(
    @ReqContext() ctx: RequestContext,
    @Query() query: ExportMovementsQuery,
  ): Promise<StreamableFile> {
    const csv = await this.movementsExport.stream(query, ctx.requestId);
    return new StreamableFile(csv, { type: CSV_CONTENT_TYPE, disposition: attachment('movements.csv') });
  }

  @Get('reconcile')
  @Roles(ROLE_RULES.manage)
  reconcile() {
    return this.stock.reconcile();
  }
}
