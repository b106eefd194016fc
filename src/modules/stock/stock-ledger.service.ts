import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { createHash } from 'node:crypto';
import { RequestContext } from '../../common/decorators/auth.decorators';
import { ApiError, errorBody } from '../../common/errors/api-error';
import { IdempotentReplay } from '../../common/errors/idempotent-replay';
import { MAX_LEVEL } from '../../common/quantities';
import { duplicateKey, PLACEHOLDER_ID, withIds } from '../../database/dialect';
import { Transaction } from '../../database/transaction';
import { TransactionService } from '../../database/transaction.service';
import { MetricsService } from '../../common/metrics/metrics.service';
import { AuditRepository, InsertedRowEntry } from '../audit/audit.repository';
import { ProductRef, productNotFound } from '../products/product-ref';
import { ProductsRepository } from '../products/products.repository';
import { ProductsService } from '../products/products.service';
import { Warehouse } from '../warehouses/entities/warehouse.entity';
import { WarehousesService } from '../warehouses/warehouses.service';
import { AdjustReason, MovementType } from './entities/stock-movement.entity';
import { IdempotencyRepository, IdempotencyScope, StoredAnswer } from './idempotency.repository';
import { LevelKey, levelKeyOf, levelOrder } from './levels/level-key';
import { StockLevelsRepository } from './levels/stock-levels.repository';
import { NewMovement, StockRepository } from './stock.repository';
import { LevelView, MovementView, toMovementView } from './stock.views';

const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const IDEMPOTENCY_PURGE_EVERY_MS = 10 * 60 * 1000;

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

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A stock write waiting for its group, with everything resolved that needs no lock. */
interface Pending {
  ctx: RequestContext;
  write: StockWrite;
  shape: (result: StockResult) => unknown;
  scope?: IdempotencyScope;
  requestHash?: string;
  warehouses: Warehouse[];
  productIds: number[];
  /** The level each operation changes, in operation order. */
  keys: LevelKey[];
  settle: (outcome: Outcome) => void;
}

type Outcome = { answer: unknown; movements: { type: MovementType }[] } | { error: unknown };

/** How many groups hold a connection at once; while they run, new writes gather into the next ones. */
const GROUPS_IN_FLIGHT = 4;
/** Bounds one group's transaction (its locks and its SQL). */
const MAX_GROUP_OPERATIONS = 500;

/**
 * A group that cannot commit as one: a refused write created a level row nobody keeps. The group runs
 * again without the refused writes, and they run alone, one after another (a lone refusal rolls back).
 */
class Regroup extends Error {
  constructor(readonly refused: Set<number>) {
    super('regroup');
  }
}

const scopeKey = (scope: IdempotencyScope) => `${scope.userId}\n${scope.route}\n${scope.key}`;

/**
 * The one write path of stock. In one transaction it locks the affected level rows in ascending
 * (warehouse, product) order, applies the operations in order (lines on one level add up before
 * any check), refuses anything below 0 or above 2^53-1, appends one movement per change with its
 * balanceAfter, writes the audit entry and — with an Idempotency-Key — the answer, then commits.
 * In, out, adjust, transfer and batch are thin callers.
 *
 * Group commit: writes that arrive while earlier ones hold the database join one transaction — one
 * lock round trip and one write round trip for all of them. Each is applied in arrival order on the
 * balances the ones before it left, exactly as if they had run one after another; one that is refused
 * (404, 409) is left out and refused, the others commit. Every answer is sent after COMMIT.
 */
@Injectable()
export class StockLedgerService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(StockLedgerService.name);
  private purgeTimer?: NodeJS.Timeout;
  private queue: Pending[] = [];
  private groupsInFlight = 0;

  constructor(
    private readonly movementRows: StockRepository,
    private readonly levels: StockLevelsRepository,
    private readonly products: ProductsService,
    private readonly productRows: ProductsRepository,
    private readonly audit: AuditRepository,
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
      const productIds = await this.products.idsOf(write.operations.map((op) => op.product));
      const keys = productIds.map((productId, i) => ({ warehouseId: warehouses[i].id, productId }));
      const outcome = await new Promise<Outcome>((settle) => {
        this.queue.push({ ctx, write, shape, scope, requestHash, warehouses, productIds, keys, settle });
        this.startGroups();
      });
      if ('error' in outcome) throw outcome.error;
      this.metrics.stockTransactionDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      for (const m of outcome.movements) this.metrics.stockMovements.inc({ type: m.type });
      return outcome.answer as Body;
    } catch (error) {
      if (scope && duplicateKey(error)) await this.replayIfKnown(scope, requestHash!);
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

  private startGroups(): void {
    while (this.groupsInFlight < GROUPS_IN_FLIGHT && this.queue.length) {
      const group = this.takeGroup();
      this.groupsInFlight++;
      void this.runGroup(group).finally(() => {
        this.groupsInFlight--;
        this.startGroups();
      });
    }
  }

  /** The oldest writes, up to the size bound; a second use of one idempotency key waits for the next group. */
  private takeGroup(): Pending[] {
    const group: Pending[] = [];
    const keys = new Set<string>();
    let operations = 0;
    this.queue = this.queue.filter((pending) => {
      const key = pending.scope && scopeKey(pending.scope);
      const size = pending.write.operations.length;
      if ((group.length && operations + size > MAX_GROUP_OPERATIONS) || (key && keys.has(key))) return true;
      group.push(pending);
      operations += size;
      if (key) keys.add(key);
      return false;
    });
    return group;
  }

  private async runGroup(group: Pending[]): Promise<void> {
    if (!group.length) return;
    let outcomes: Outcome[];
    try {
      outcomes = await this.tx.runInline((tx) => this.commitGroup(tx, group));
    } catch (error) {
      if (error instanceof Regroup) {
        const alone = async () => {
          for (const pending of group.filter((_, i) => error.refused.has(i))) await this.runGroup([pending]);
        };
        await Promise.all([this.runGroup(group.filter((_, i) => !error.refused.has(i))), alone()]);
        return;
      }
      // one write's failure (an idempotency key another process stored meanwhile, anything the database
      // refused) fails its whole group: the others must not pay for it, so each runs again alone
      if (group.length > 1 && !(error instanceof ApiError)) {
        for (const pending of group) await this.runGroup([pending]);
        return;
      }
      outcomes = group.map(() => ({ error }));
    }
    this.metrics.groupWrites.observe(group.length);
    group.forEach((pending, i) => pending.settle(outcomes[i]));
  }

  /** One transaction for a group: lock everything it touches, apply each write in turn, write, commit. */
  private async commitGroup(tx: Transaction, group: Pending[]): Promise<Outcome[]> {
    const now = new Date();
    const distinct = [...new Map(group.flatMap((p) => p.keys).map((k) => [levelKeyOf(k), k])).values()];
    const mayAdd = new Set(
      group.flatMap((p) =>
        p.write.operations.flatMap((op, i) =>
          op.countedQuantity !== undefined || op.delta! > 0 ? [levelKeyOf(p.keys[i])] : [],
        ),
      ),
    );
    const lockStarted = process.hrtime.bigint();
    const locked = await this.lock(tx, group, distinct, mayAdd, now);
    this.metrics.lockWait.observe(Number(process.hrtime.bigint() - lockStarted) / 1e9);

    const movements: NewMovement[] = [];
    const audits: InsertedRowEntry[] = [];
    const answers: StoredAnswer[] = [];
    const accepted: number[] = [];
    const outcomes = group.map((pending, index): Outcome => {
      try {
        const planned = this.plan(pending, locked.skus, locked.onHand, now, movements.length);
        const answer = pending.shape(planned.result);
        const { ctx, write, scope, requestHash } = pending;
        audits.push({
          actor: { id: ctx.user.id, username: ctx.user.username, role: ctx.user.role },
          action: write.action,
          entityType: 'movement',
          entityRow: movements.length,
          before: null,
          after: { movements: planned.result.movements },
          requestId: ctx.requestId,
          ip: ctx.ip,
        });
        if (scope) answers.push({ ...scope, requestHash: requestHash!, responseStatus: 201, responseBody: answer });
        for (const [key, value] of planned.end) locked.onHand.set(key, value);
        accepted.push(index);
        movements.push(...planned.movements);
        return { answer, movements: planned.result.movements };
      } catch (error) {
        if (error instanceof ApiError) return { error }; // refused alone; the rest of the group goes on
        throw error;
      }
    });
    const refused = (i: number) => 'error' in outcomes[i];
    if (group.length === 1 && refused(0)) throw (outcomes[0] as { error: unknown }).error; // rolls back, created rows too
    // a refused write must leave no trace: not even a level row created for it
    const touched = new Set(movements.map((m) => levelKeyOf(m)));
    const leavesRow = (p: Pending) =>
      p.keys.some((k) => locked.created.has(levelKeyOf(k)) && !touched.has(levelKeyOf(k)));
    if (group.some((p, i) => refused(i) && leavesRow(p))) {
      throw new Regroup(new Set(group.flatMap((_, i) => (refused(i) ? [i] : []))));
    }
    if (!movements.length) return outcomes; // every write refused: nothing to write (runInline commits)
    // every level a movement touched, even one back where it started: its updatedAt is the answer's
    const levels = distinct
      .filter((k) => touched.has(levelKeyOf(k)))
      .map((k) => ({ ...k, onHand: locked.onHand.get(levelKeyOf(k))! }));
    // one round trip on MySQL: each table's statements come from its owner
    const firstId = await tx.commitWithInsert(
      this.levels.setOnHand(levels, now),
      this.movementRows.appendMovements(movements),
      (ids) => [
        this.audit.appendForInserted(audits, now, ids),
        ...(answers.length ? [this.idempotencyKeys.insertAnswers(answers, now, ids)] : []),
      ],
    );
    // the answers, like the stored copies, carry the real movement ids
    for (const i of accepted)
      outcomes[i] = { ...outcomes[i], answer: withIds((outcomes[i] as { answer: unknown }).answer, firstId) };
    return outcomes;
  }

  /**
   * The locking reads of a group, in one round trip with BEGIN on MySQL: the active products with a
   * shared lock (an archive, which takes the product row exclusively first, cannot slip in), then the
   * level rows FOR UPDATE in ascending (warehouse, product) order — the one order every stock write
   * uses. A missing level row that a write may add to (`mayAdd`) is created, race-free; any other
   * missing level reads as 0 without a row — a write could only take from it, and is refused — so
   * refused writes never contend on creating rows nobody keeps.
   */
  private async lock(tx: Transaction, group: Pending[], distinct: LevelKey[], mayAdd: Set<string>, now: Date) {
    const sorted = [...distinct].sort(levelOrder);
    const productIds = [...new Set(group.flatMap((p) => p.productIds))];
    const [skus, found] = await tx.query([
      this.productRows.lockActiveSkus(productIds),
      this.levels.lockForUpdate(sorted),
    ]);
    // only for active products: a write naming another is refused and must leave no row behind
    const missing = sorted.filter(
      (k) => !found.has(levelKeyOf(k)) && skus.has(k.productId) && mayAdd.has(levelKeyOf(k)),
    );
    let onHand = found;
    if (missing.length)
      [, onHand] = await tx.query([this.levels.insertMissing(missing, now), this.levels.lockForUpdate(sorted)]);
    // a level without a row (nobody may add to it here) reads as 0
    return {
      skus,
      created: new Set(missing.map((k) => levelKeyOf(k))),
      onHand: new Map([...sorted.map((k): [string, number] => [levelKeyOf(k), 0]), ...onHand]),
    };
  }

  /**
   * One write of a group, on the locked balances the writes before it left (`onHand`; `end` is what
   * it leaves, for the caller to keep once the write is accepted): every line on a level counts before
   * anything is checked. Its movements' ids are PLACEHOLDER_IDs, numbered from
   * `firstMovement` within the group.
   */
  private plan(
    { ctx, write, warehouses, productIds, keys }: Pending,
    skus: Map<number, string>,
    onHand: Map<string, number>,
    now: Date,
    firstMovement: number,
  ) {
    const missing = write.operations.findIndex((_, i) => !skus.has(productIds[i]));
    if (missing >= 0) throw productNotFound(write.operations[missing].product); // unknown or archived

    const distinct = [...new Map(keys.map((k) => [levelKeyOf(k), k])).values()];
    const start = new Map(distinct.map((k) => [levelKeyOf(k), onHand.get(levelKeyOf(k))!]));
    const end = new Map(start);
    const movements = write.operations.map((op, i) => {
      const key = levelKeyOf(keys[i]);
      const delta = op.countedQuantity !== undefined ? op.countedQuantity - end.get(key)! : op.delta!;
      end.set(key, end.get(key)! + delta);
      return {
        type: op.type,
        productId: productIds[i],
        warehouseId: keys[i].warehouseId,
        quantity: delta,
        balanceAfter: end.get(key)!,
        reference: write.reference ?? null,
        note: write.note ?? null,
        reason: write.reason ?? null,
        actorId: ctx.user.id,
        actorUsername: ctx.user.username,
        requestId: ctx.requestId,
        createdAt: now,
      };
    });
    this.assertWithinRange(distinct, start, end, keys, warehouses);

    const sku = (i: number) => skus.get(productIds[i])!;
    const result: StockResult = {
      movements: movements.map((m, i) =>
        toMovementView({ ...m, id: PLACEHOLDER_ID(firstMovement + i) }, sku(i), warehouses[i].code),
      ),
      levels: keys.map((key, i) => ({
        productId: key.productId,
        sku: sku(i),
        warehouse: warehouses[i].code,
        onHand: end.get(levelKeyOf(key))!,
        updatedAt: now.toISOString(),
      })),
    };
    return { result, movements, end };
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
    const body = errorBody(error, ctx.requestId);
    try {
      await this.tx.run((manager) => this.remember(manager, scope, requestHash, error.status, body));
    } catch (storeError) {
      if (duplicateKey(storeError)) await this.replayIfKnown(scope, requestHash);
      throw storeError;
    }
  }

  /** Forgets answers older than 24 h (every 10 minutes); a key older than that is a new request again. */
  async purgeIdempotencyKeys(): Promise<void> {
    try {
      const purged = await this.idempotencyKeys.deleteOlderThan(new Date(Date.now() - IDEMPOTENCY_TTL_MS));
      if (purged) this.logger.log({ purged }, 'Purged idempotency keys older than 24 h');
    } catch (error) {
      this.logger.warn({ err: error }, 'Could not purge old idempotency keys');
    }
  }
}
