import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { EntityManager, QueryFailedError } from 'typeorm';
import { RequestContext } from '../../common/decorators/auth.decorators';
import { ApiError } from '../../common/errors/api-error';
import { MAX_LEVEL } from '../../common/quantities';
import { TransactionService } from '../../database/transaction.service';
import { MetricsService } from '../metrics/metrics.service';
import { Warehouse } from '../warehouses/entities/warehouse.entity';
import { WarehousesService } from '../warehouses/warehouses.service';
import { AdjustReason, MovementType } from './entities/stock-movement.entity';
import { IdempotencyRepository, IdempotencyScope } from './idempotency.repository';
import { LevelKey, levelKeyOf, MOVEMENT_ID, StockRepository } from './stock.repository';
import { LevelView, MovementView, toMovementView } from './stock.views';

const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const IDEMPOTENCY_PURGE_EVERY_MS = 10 * 60 * 1000;

export interface ProductRef {
  productId?: number;
  sku?: string;
}

/** One change to one level. `delta` is signed; `countedQuantity` sets the level (a stock count). */
export interface StockOperation {
  type: MovementType;
  product: ProductRef;
  warehouse?: string;
  delta?: number;
  countedQuantity?: number;
}

export interface StockWrite {
  action: 'stock.in' | 'stock.out' | 'stock.adjust' | 'stock.transfer' | 'stock.batch';
  operations: StockOperation[];
  reference?: string | null;
  note?: string | null;
  reason?: AdjustReason | null;
}

export interface StockResult {
  movements: MovementView[];
  /** The level after the write, one per operation, in operation order. */
  levels: LevelView[];
}

export interface Idempotency {
  route: string;
  key: string;
  body: unknown;
}

const productNotFound = (ref: ProductRef) =>
  ApiError.notFound('Product', ref.productId !== undefined ? { productId: ref.productId } : { sku: ref.sku });

/** A stored first answer, sent again verbatim. */
export class IdempotentReplay extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super('idempotent replay');
  }
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const isDuplicateKey = (error: unknown) =>
  error instanceof QueryFailedError &&
  ['ER_DUP_ENTRY', 'SQLITE_CONSTRAINT_PRIMARYKEY', 'SQLITE_CONSTRAINT_UNIQUE'].includes(
    (error.driverError as { code?: string }).code ?? '',
  );

/**
 * The one write path of stock. In one transaction it locks the affected level rows in ascending
 * (warehouse, product) order, applies the operations in order (lines on one level add up before
 * any check), refuses anything below 0 or above 2^53-1, appends one movement per change with its
 * balanceAfter, writes the audit entry and — with an Idempotency-Key — the answer, then commits.
 * In, out, adjust, transfer and batch are thin callers.
 */
@Injectable()
export class StockLedgerService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(StockLedgerService.name);
  private purgeTimer?: NodeJS.Timeout;
  private readonly skuIds = new Map<string, number>();

  constructor(
    private readonly stock: StockRepository,
    private readonly idempotencyKeys: IdempotencyRepository,
    private readonly warehouses: WarehousesService,
    private readonly tx: TransactionService,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    this.purgeTimer = setInterval(() => void this.purgeIdempotencyKeys(), IDEMPOTENCY_PURGE_EVERY_MS);
    this.purgeTimer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.purgeTimer);
  }

  /** Applies a write and shapes its answer; with `idempotency`, the first answer is kept and replayed. */
  async apply<Body>(
    ctx: RequestContext,
    write: StockWrite,
    shape: (result: StockResult) => Body,
    idempotency?: Idempotency,
  ): Promise<Body> {
    const scope = idempotency && { userId: ctx.user.id, route: idempotency.route, key: idempotency.key };
    const requestHash = idempotency && createHash('sha256').update(canonicalJson(idempotency.body)).digest('hex');
    if (scope) await this.replayIfKnown(scope, requestHash!);
    const started = process.hrtime.bigint();
    try {
      // names resolve before the transaction (warehouses and SKUs never change): it never waits on a second connection
      const warehouses = await Promise.all(write.operations.map((op) => this.warehouses.resolve(op.warehouse)));
      const productIds = await this.productIds(write.operations);
      const { answer, movements } = await this.tx.runInline(async (manager, bounds) => {
        const now = new Date();
        const planned = await this.plan(manager, ctx, write, warehouses, productIds, now, bounds.begin);
        const template = shape(planned.result);
        const firstId = await this.stock.persist(manager, {
          now,
          commit: bounds.commit,
          levels: planned.levels,
          movements: planned.movements,
          audit: {
            actor: { id: ctx.user.id, username: ctx.user.username, role: ctx.user.role },
            action: write.action,
            after: { movements: planned.result.movements },
            requestId: ctx.requestId,
            ip: ctx.ip,
          },
          idempotency: scope && { ...scope, requestHash: requestHash!, responseStatus: 201, responseBody: template },
        });
        // the answer holds the very view objects: give them their ids (the stored copies got them in SQL)
        planned.result.movements.forEach((view, i) => (view.id = firstId + i));
        return { answer: template, movements: planned.movements };
      });
      this.metrics.stockTransactionDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      for (const m of movements) this.metrics.stockMovements.inc({ type: m.type });
      return answer;
    } catch (error) {
      if (scope && isDuplicateKey(error)) await this.replayIfKnown(scope, requestHash!);
      if (error instanceof ApiError && error.status < 500) {
        this.metrics.stockRejections.inc({ reason: error.code });
        // a first 404/409 is an answer too: kept, so a retry with the key gets it again
        if (scope && (error.status === 404 || error.status === 409)) {
          await this.rememberRefusal(ctx, scope, requestHash!, error);
        }
      }
      throw error;
    }
  }

  /**
   * Inside the transaction: lock, apply the operations in order on the locked balances (every line on
   * a level counts before anything is checked), check the range, and say what to write. Movement ids in
   * the result are MOVEMENT_ID placeholders until the rows exist.
   */
  private async plan(
    manager: EntityManager,
    ctx: RequestContext,
    write: StockWrite,
    warehouses: Warehouse[],
    productIds: number[],
    now: Date,
    begin: string,
  ) {
    const keys = write.operations.map((_, i) => ({ warehouseId: warehouses[i].id, productId: productIds[i] }));
    const distinct = [...new Map(keys.map((k) => [levelKeyOf(k), k])).values()];
    const lockStarted = process.hrtime.bigint();
    const locked = await this.stock.lockForWrite(manager, [...new Set(productIds)], distinct, now, begin);
    this.metrics.lockWait.observe(Number(process.hrtime.bigint() - lockStarted) / 1e9);
    const missing = write.operations.findIndex((_, i) => !locked.products.has(productIds[i]));
    if (missing >= 0) throw productNotFound(write.operations[missing].product); // unknown or archived

    const onHand = locked.onHand;
    const start = new Map(onHand);
    const movements = write.operations.map((op, i) => {
      const key = levelKeyOf(keys[i]);
      const delta = op.countedQuantity !== undefined ? op.countedQuantity - onHand.get(key)! : op.delta!;
      onHand.set(key, onHand.get(key)! + delta);
      return {
        type: op.type,
        productId: productIds[i],
        warehouseId: keys[i].warehouseId,
        quantity: delta,
        balanceAfter: onHand.get(key)!,
        reference: write.reference ?? null,
        note: write.note ?? null,
        reason: write.reason ?? null,
        actorId: ctx.user.id,
        actorUsername: ctx.user.username,
        requestId: ctx.requestId,
        createdAt: now,
      };
    });
    this.assertWithinRange(distinct, start, onHand, keys, warehouses);

    const sku = (i: number) => locked.products.get(productIds[i])!.sku;
    const result: StockResult = {
      movements: movements.map((m, i) => toMovementView({ ...m, id: MOVEMENT_ID(i) }, sku(i), warehouses[i].code)),
      levels: keys.map((key, i) => ({
        productId: key.productId,
        sku: sku(i),
        warehouse: warehouses[i].code,
        onHand: onHand.get(levelKeyOf(key))!,
        updatedAt: now.toISOString(),
      })),
    };
    const levels = distinct
      .filter((k) => onHand.get(levelKeyOf(k)) !== start.get(levelKeyOf(k)))
      .map((k) => ({ ...k, onHand: onHand.get(levelKeyOf(k))! }));
    return { result, movements, levels };
  }

  /** Each operation's product id; SKUs resolve through a cache (a SKU never changes owner). 404 for an unknown one. */
  private async productIds(operations: StockOperation[]): Promise<number[]> {
    const unknown = [
      ...new Set(
        operations.flatMap((op) =>
          op.product.sku !== undefined && !this.skuIds.has(op.product.sku.toLowerCase())
            ? [op.product.sku.toLowerCase()]
            : [],
        ),
      ),
    ];
    for (const [skuKey, id] of await this.stock.findProductIdsBySkuKey(unknown)) this.skuIds.set(skuKey, id);
    return operations.map((op) => {
      const id = op.product.productId ?? this.skuIds.get(op.product.sku!.toLowerCase());
      if (id === undefined) throw productNotFound(op.product);
      return id;
    });
  }

  private assertWithinRange(
    levels: LevelKey[],
    start: Map<string, number>,
    end: Map<string, number>,
    keys: LevelKey[],
    warehouses: { code: string }[],
  ): void {
    const codeOf = (level: LevelKey) => warehouses[keys.findIndex((key) => levelKeyOf(key) === levelKeyOf(level))].code;
    const short = levels.filter((k) => end.get(levelKeyOf(k))! < 0);
    if (short.length) {
      const lines = short.map((k) => {
        const available = start.get(levelKeyOf(k))!;
        return {
          productId: k.productId,
          warehouse: codeOf(k),
          requested: available - end.get(levelKeyOf(k))!,
          available,
        };
      });
      throw new ApiError('INSUFFICIENT_STOCK', 'Not enough stock', { lines });
    }
    const over = levels.find((k) => end.get(levelKeyOf(k))! > MAX_LEVEL);
    if (over) {
      throw new ApiError('QUANTITY_OUT_OF_RANGE', `A level cannot exceed ${MAX_LEVEL}`, {
        productId: over.productId,
        warehouse: codeOf(over),
      });
    }
  }

  private async replayIfKnown(scope: IdempotencyScope, requestHash: string): Promise<void> {
    const stored = await this.idempotencyKeys.find(scope);
    if (!stored) return;
    if (stored.requestHash !== requestHash) {
      throw new ApiError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with another request body');
    }
    this.metrics.idempotentReplays.inc();
    throw new IdempotentReplay(stored.responseStatus, JSON.parse(stored.responseBody));
  }

  private remember(
    manager: EntityManager,
    scope: IdempotencyScope,
    requestHash: string,
    status: number,
    body: unknown,
  ) {
    return this.idempotencyKeys.insert(manager, {
      ...scope,
      requestHash,
      responseStatus: status,
      responseBody: JSON.stringify(body),
      createdAt: new Date(),
    });
  }

  private async rememberRefusal(ctx: RequestContext, scope: IdempotencyScope, requestHash: string, error: ApiError) {
    const body = {
      statusCode: error.status,
      code: error.code,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
      requestId: ctx.requestId,
    };
    try {
      await this.tx.run((manager) => this.remember(manager, scope, requestHash, error.status, body));
    } catch (storeError) {
      if (isDuplicateKey(storeError)) await this.replayIfKnown(scope, requestHash);
      throw storeError;
    }
  }

  private async purgeIdempotencyKeys(): Promise<void> {
    try {
      await this.idempotencyKeys.deleteOlderThan(new Date(Date.now() - IDEMPOTENCY_TTL_MS));
    } catch (error) {
      this.logger.warn({ err: error }, 'Could not purge old idempotency keys');
    }
  }
}
