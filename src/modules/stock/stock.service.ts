import { Injectable } from '@nestjs/common';
import { RequestContext } from '../../common/decorators/auth.decorators';
import { ApiError } from '../../common/errors/api-error';
import { decodeCursor, decodeCursorKey, Page, pageSize, toPage } from '../../common/http/pagination';
import { MetricsService } from '../../common/metrics/metrics.service';
import { TransactionService } from '../../database/transaction.service';
import { ProductRef } from '../products/product-ref';
import { ProductsRepository } from '../products/products.repository';
import { ReadCache } from '../read-cache/read-cache.service';
import { WarehousesService } from '../warehouses/warehouses.service';
import {
  AdjustDto,
  BatchDto,
  LevelsQuery,
  MovementsQuery,
  ProductLine,
  StockMoveDto,
  TransferDto,
} from './dto/stock.dto';
import { Idempotency } from './idempotency.service';
import { StockLevelsRepository } from './levels/stock-levels.repository';
import { StockLedgerService } from './stock-ledger.service';
import { StockResult } from './stock-planner';
import { levelKeyOf } from './levels/level-key';
import { ReservationsRepository } from './reservations/reservations.repository';
import { StockRepository } from './stock.repository';
import { LevelView, MovementView, toMovementView } from './stock.views';

/** Exactly one of productId or sku; `path` prefixes the field names in the 400. */
export function productRef(line: ProductLine, path = ''): ProductRef {
  if (line.productId !== undefined && line.sku !== undefined) {
    const message = ['exactly one of productId or sku is allowed'];
    throw ApiError.validation({ [`${path}productId`]: message, [`${path}sku`]: message });
  }
  return line.productId !== undefined ? { productId: line.productId } : { sku: line.sku };
}

const single = ({ movements, levels }: StockResult) => ({ movement: movements[0], level: levels[0] });

export interface LevelMismatch {
  productId: number;
  warehouse: string;
  onHand: number;
  ledgerSum: number;
  firstBadMovementId: number | null;
  reserved: number;
  reservedSum: number;
}

/** Stock routes: thin callers of the one write path, and the reads. */
@Injectable()
export class StockService {
  constructor(
    private readonly ledger: StockLedgerService,
    private readonly movementRows: StockRepository,
    private readonly levelRows: StockLevelsRepository,
    private readonly reservationRows: ReservationsRepository,
    private readonly products: ProductsRepository,
    private readonly warehouses: WarehousesService,
    private readonly metrics: MetricsService,
    private readonly tx: TransactionService,
    private readonly cache: ReadCache,
  ) {}

  receive(ctx: RequestContext, dto: StockMoveDto, idempotency?: Idempotency) {
    return this.move(ctx, 'IN', dto, idempotency);
  }

  issue(ctx: RequestContext, dto: StockMoveDto, idempotency?: Idempotency) {
    return this.move(ctx, 'OUT', dto, idempotency);
  }

  private move(ctx: RequestContext, type: 'IN' | 'OUT', dto: StockMoveDto, idempotency?: Idempotency) {
    const delta = type === 'IN' ? dto.quantity : -dto.quantity;
    const operations = [
      { type, product: productRef(dto), warehouse: dto.warehouse, delta, takesAvailable: type === 'OUT' },
    ];
    const action = type === 'IN' ? 'stock.in' : 'stock.out';
    return this.ledger.apply(
      ctx,
      { action, operations, reference: dto.reference, note: dto.note },
      single,
      idempotency,
    );
  }

  adjust(ctx: RequestContext, dto: AdjustDto, idempotency?: Idempotency) {
    if (dto.countedQuantity !== undefined && dto.delta !== undefined) {
      const message = ['exactly one of countedQuantity or delta is allowed'];
      throw ApiError.validation({ countedQuantity: message, delta: message });
    }
    const operations = [
      {
        type: 'ADJUST' as const,
        product: productRef(dto),
        warehouse: dto.warehouse,
        delta: dto.delta,
        countedQuantity: dto.countedQuantity,
      },
    ];
    return this.ledger.apply(
      ctx,
      { action: 'stock.adjust', operations, reason: dto.reason, note: dto.note },
      single,
      idempotency,
    );
  }

  transfer(ctx: RequestContext, dto: TransferDto, idempotency?: Idempotency) {
    if (dto.from === dto.to) throw ApiError.validation({ to: ['to must differ from from'] });
    const product = productRef(dto);
    const operations = [
      { type: 'TRANSFER_OUT' as const, product, warehouse: dto.from, delta: -dto.quantity, takesAvailable: true },
      { type: 'TRANSFER_IN' as const, product, warehouse: dto.to, delta: dto.quantity },
    ];
    return this.ledger.apply(
      ctx,
      { action: 'stock.transfer', operations, reference: dto.reference },
      (r) => r,
      idempotency,
    );
  }

  batch(ctx: RequestContext, dto: BatchDto, idempotency?: Idempotency) {
    const sign = dto.type === 'IN' ? 1 : -1;
    const operations = dto.lines.map((line, i) => ({
      type: dto.type,
      product: productRef(line, `lines.${i}.`),
      warehouse: line.warehouse,
      delta: sign * line.quantity,
      takesAvailable: dto.type === 'OUT',
    }));
    return this.ledger.apply(
      ctx,
      { action: 'stock.batch', operations, reference: dto.reference },
      (r) => r,
      idempotency,
    );
  }

  /** A product's levels (productId, no sku) come through the read cache, one entry per page asked for. */
  levels(query: LevelsQuery): Promise<Page<LevelView>> {
    const after = decodeCursorKey(query.cursor, ['p', 'w']);
    if (query.productId === undefined || query.sku !== undefined) return this.readLevels(query, after);
    // keyed by the cursor as decoded: many spellings of one cursor make one entry
    const page = `levels ${query.warehouse ?? ''} ${after ? `${after.p}.${after.w}` : ''} ${pageSize(query)}`;
    return this.cache.read(query.productId, page, () => this.readLevels(query, after));
  }

  private async readLevels(query: LevelsQuery, after: ReturnType<typeof decodeCursorKey>): Promise<Page<LevelView>> {
    const limit = pageSize(query);
    const rows = await this.levelRows.list({
      ...(await this.filterIds(query)),
      after: after && { productId: after.p, warehouseId: after.w },
      take: limit + 1,
    });
    return toPage(
      rows,
      limit,
      (r) => ({
        productId: r.productId,
        sku: r.sku,
        warehouse: r.warehouse,
        onHand: r.onHand,
        reserved: r.reserved,
        available: r.onHand - r.reserved,
        updatedAt: r.updatedAt.toISOString(),
      }),
      (r) => ({ p: r.productId, w: r.warehouseId }),
    );
  }

  async movements(query: MovementsQuery): Promise<Page<MovementView>> {
    const limit = pageSize(query);
    const rows = await this.movementRows.listMovements({
      ...(await this.filterIds(query)),
      type: query.type,
      from: query.from !== undefined ? new Date(query.from) : undefined,
      to: query.to !== undefined ? new Date(query.to) : undefined,
      beforeId: decodeCursor(query.cursor),
      take: limit + 1,
    });
    return toPage(rows, limit, (m) => toMovementView(m, m.sku, m.warehouse));
  }

  /**
   * Every level against its ledger (on-hand = the sum of its movements, each balanceAfter the running
   * sum) and against its reservations (reserved = the sum of its ACTIVE reservation lines). Every run
   * (the route, the CLI, ReconcileSchedule) sets inventory_reconcile_mismatches and the last-run time.
   */
  async reconcile(): Promise<{ checkedLevels: number; mismatches: LevelMismatch[] }> {
    // both reads in one transaction: one snapshot (MySQL's consistent read takes no lock), so a reservation
    // written between them cannot look like a mismatch; on SQLite it waits for the write in progress
    const [checks, holds] = await this.tx.run(
      async (manager) =>
        [await this.movementRows.checkLedger(manager), await this.reservationRows.activeHoldsByLevel(manager)] as const,
    );
    const mismatches = checks
      .map(({ warehouseId, ...check }) => ({
        ...check,
        reservedSum: holds.get(levelKeyOf({ warehouseId, ...check })) ?? 0,
      }))
      .filter((c) => c.onHand !== c.ledgerSum || c.firstBadMovementId !== null || c.reserved !== c.reservedSum);
    this.metrics.reconcileMismatches.set(mismatches.length);
    this.metrics.reconcileLastRun.set(Date.now() / 1000);
    return {
      checkedLevels: checks.length,
      mismatches: mismatches.map(
        ({ productId, warehouse, onHand, ledgerSum, firstBadMovementId, reserved, reservedSum }) => ({
          productId,
          warehouse,
          onHand,
          ledgerSum,
          firstBadMovementId,
          reserved,
          reservedSum,
        }),
      ),
    };
  }

  /**
   * Turns productId / sku / warehouse filters into ids; 404 when one names nothing. An archived product
   * is named like any other: its history stays readable.
   */
  async filterIds(query: {
    productId?: number;
    sku?: string;
    warehouse?: string;
  }): Promise<{ productId?: number; warehouseId?: number }> {
    let productId = query.productId;
    if (query.sku !== undefined) {
      const product = await this.products.findEverBySku(query.sku);
      if (!product || (productId !== undefined && product.id !== productId)) {
        throw ApiError.notFound('Product', { sku: query.sku });
      }
      productId = product.id;
    } else if (productId !== undefined && !(await this.products.findEverById(productId))) {
      throw ApiError.notFound('Product', { productId });
    }
    const warehouseId = query.warehouse !== undefined ? (await this.warehouses.resolve(query.warehouse)).id : undefined;
    return { productId, warehouseId };
  }
}
