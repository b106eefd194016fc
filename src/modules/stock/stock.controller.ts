import { Body, Controller, Get, Headers, Post, Query, Req, StreamableFile } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ReqContext, RequestContext, Roles } from '../../common/decorators/auth.decorators';
import { ApiCsvExport, csvFile } from '../../common/http/csv';
import { PageOf } from '../../common/http/pagination';
import { ROLE_RULES } from '../../common/roles';
import { ExportMovementsQuery, MOVEMENT_CSV_COLUMNS } from './dto/export-movements.dto';
import { AdjustDto, BatchDto, LevelsQuery, MovementsQuery, StockMoveDto, TransferDto } from './dto/stock.dto';
import { ApiIdempotencyKey, idempotencyOf } from './idempotency-key';
import { MovementsExport } from './movements-export';
import { StockService } from './stock.service';
import { LevelView, MovementView, ReconcileView, StockWritesView, StockWriteView } from './stock.views';

const MOVE_EXAMPLES = {
  bySku: { summary: 'By SKU, into the default warehouse (MAIN)', value: { sku: 'WID-001', quantity: 10 } },
  byId: {
    summary: 'By product id, with a reference',
    value: { productId: 1, quantity: 5, warehouse: 'MAIN', reference: 'PO-2024-001', note: 'first delivery' },
  },
};

@Controller('api/stock')
export class StockController {
  constructor(
    private readonly stock: StockService,
    private readonly movementsExport: MovementsExport,
  ) {}

  @Post('in')
  @Roles(ROLE_RULES.stockWrite)
  @ApiOperation({ summary: 'Receive stock', description: 'Adds quantity to a level and records an IN movement.' })
  @ApiBody({ type: StockMoveDto, examples: MOVE_EXAMPLES })
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ type: StockWriteView, description: 'The IN movement and the level after it' })
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
  @ApiOperation({
    summary: 'Issue stock',
    description: 'Takes quantity from a level’s available stock (reserved units are not taken); never below 0.',
  })
  @ApiBody({ type: StockMoveDto, examples: MOVE_EXAMPLES })
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ type: StockWriteView, description: 'The OUT movement and the level after it' })
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
  @ApiOperation({
    summary: 'Adjust stock after a count or a loss',
    description:
      'Exactly one of countedQuantity (the level found; equal to the level records a movement of 0) or delta ' +
      '(non-zero).',
  })
  @ApiBody({
    type: AdjustDto,
    examples: {
      count: { summary: 'A stock count', value: { sku: 'WID-001', countedQuantity: 42, reason: 'COUNT' } },
      damage: { summary: 'Damaged units', value: { productId: 1, delta: -2, reason: 'DAMAGE', note: 'dropped' } },
    },
  })
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ type: StockWriteView, description: 'The ADJUST movement and the level after it' })
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
  @ApiOperation({ summary: 'Transfer stock between warehouses' })
  @ApiBody({
    type: TransferDto,
    examples: { transfer: { value: { sku: 'WID-001', from: 'MAIN', to: 'EAST', quantity: 3, reference: 'T-17' } } },
  })
  @ApiIdempotencyKey()
  @ApiCreatedResponse({
    type: StockWritesView,
    description: 'movements: [TRANSFER_OUT, TRANSFER_IN]; levels: [from, to]',
  })
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
  @ApiOperation({
    summary: 'Receive or issue many lines at once',
    description: 'All or nothing: if any line is short, nothing moves and the 409 lists every short line.',
  })
  @ApiBody({
    type: BatchDto,
    examples: {
      out: {
        value: {
          type: 'OUT',
          reference: 'SO-981',
          lines: [
            { sku: 'WID-001', quantity: 2 },
            { productId: 7, quantity: 1, warehouse: 'EAST' },
          ],
        },
      },
    },
  })
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ type: StockWritesView, description: 'One movement and one level per line, in line order' })
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
  @ApiOperation({ summary: 'List stock levels' })
  @ApiOkResponse({ type: PageOf(LevelView) })
  levels(@Query() query: LevelsQuery) {
    return this.stock.levels(query);
  }

  @Get('movements')
  @Roles(ROLE_RULES.read)
  @ApiOperation({ summary: 'List movements, newest first', description: 'from and to are inclusive ISO-8601 times.' })
  @ApiOkResponse({ type: PageOf(MovementView) })
  movements(@Query() query: MovementsQuery) {
    return this.stock.movements(query);
  }

  @Get('movements/export.csv')
  @Roles(ROLE_RULES.read)
  @ApiCsvExport(
    'movements.csv',
    MOVEMENT_CSV_COLUMNS,
    'Export movements as CSV',
    'Every movement the list filters keep (productId, sku, warehouse, type, from, to), newest first. actor is ' +
      'the username; createdAt is ISO-8601 UTC; a negative quantity is a number.',
  )
  async exportMovements(
    @ReqContext() ctx: RequestContext,
    @Query() query: ExportMovementsQuery,
  ): Promise<StreamableFile> {
    return csvFile(await this.movementsExport.stream(query, ctx.requestId), 'movements.csv');
  }

  @Get('reconcile')
  @Roles(ROLE_RULES.manage)
  @ApiOperation({
    summary: 'Check every level against its ledger and reservations',
    description:
      'A level is listed when onHand differs from its movements’ sum, a balanceAfter is wrong, or reserved differs from its active reservation lines.',
  })
  @ApiOkResponse({ type: ReconcileView })
  reconcile() {
    return this.stock.reconcile();
  }
}
