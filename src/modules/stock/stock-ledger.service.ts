import { Injectable } from '@nestjs/common';
import { RequestContext } from '../../common/decorators/auth.decorators';
import { ApiError } from '../../common/errors/api-error';
import { MetricsService } from '../../common/metrics/metrics.service';
import { duplicateKey, withIds } from '../../database/dialect';
import { Transaction } from '../../database/transaction';
import { TransactionService } from '../../database/transaction.service';
import { AuditRepository, InsertedRowEntry } from '../audit/audit.repository';
import { ProductsRepository } from '../products/products.repository';
import { ProductsService } from '../products/products.service';
import { WarehousesService } from '../warehouses/warehouses.service';
import { GroupCommitQueue } from './group-commit';
import { Claim, Idempotency, IdempotencyService } from './idempotency.service';
import { LevelKey, levelKeyOf, levelOrder } from './levels/level-key';
import { StockLevelsRepository } from './levels/stock-levels.repository';
import { StockRepository, NewMovement } from './stock.repository';
import { levelsItMayAddTo, Locked, plan, ResolvedWrite, StockResult, StockWrite } from './stock-planner';

/** A stock write waiting for its group, with everything resolved that needs no lock. */
interface Pending extends ResolvedWrite {
  shape: (result: StockResult) => unknown;
  claim?: Claim;
  size: number;
  exclusiveKey?: string;
  settle: (outcome: Outcome) => void;
}

type Outcome = { answer: unknown; movements: { type: string }[] } | { error: unknown };

/** A write of the group that passed its checks, waiting for the group's COMMIT. */
interface Accepted {
  index: number;
  /** Index of its first movement in the group's. */
  firstMovement: number;
  result: StockResult;
  answer: unknown;
}

/**
 * A group that cannot commit as one: a refused write created a level row nobody keeps. The group runs
 * again without the refused writes, and they run alone, one after another (a lone refusal rolls back).
 */
class Regroup extends Error {
  constructor(readonly refused: Set<number>) {
    super('regroup');
  }
}

/**
 * The one write path of stock. In one transaction it locks the affected level rows in ascending
 * (warehouse, product) order, applies the operations in order (lines on one level add up before
 * any check — stock-planner.ts), refuses anything below 0 or above 2^53-1, appends one movement per
 * change with its balanceAfter, writes the audit entry and — with an Idempotency-Key — the answer,
 * then commits. In, out, adjust, transfer and batch are thin callers.
 *
 * Group commit (group-commit.ts): writes that arrive while earlier ones hold the database join one
 * transaction — one lock round trip and one write round trip for all of them. Each is applied in
 * arrival order on the balances the ones before it left, exactly as if they had run one after
 * another; one that is refused (404, 409) is left out and refused, the others commit. Every answer
 * is sent after COMMIT.
 */
@Injectable()
export class StockLedgerService {
  private readonly queue = new GroupCommitQueue<Pending>((group) => this.runGroup(group), {
    groupsInFlight: 4,
    maxOperations: 500,
  });

  constructor(
    private readonly movementRows: StockRepository,
    private readonly levelRows: StockLevelsRepository,
    private readonly products: ProductsService,
    private readonly productRows: ProductsRepository,
    private readonly warehouses: WarehousesService,
    private readonly audit: AuditRepository,
    private readonly idempotency: IdempotencyService,
    private readonly tx: TransactionService,
    private readonly metrics: MetricsService,
  ) {}

  /** Applies a write and shapes its answer; with `idempotency`, the first answer is kept and replayed. */
  async apply<Body>(
    ctx: RequestContext,
    write: StockWrite,
    shape: (result: StockResult) => Body,
    idempotency?: Idempotency,
  ): Promise<Body> {
    const claim = idempotency && (await this.idempotency.claim(ctx.user.id, idempotency));
    const started = process.hrtime.bigint();
    try {
      // names resolve before the transaction (warehouses and SKUs never change): it never waits on a second connection
      const warehouses = await Promise.all(write.operations.map((op) => this.warehouses.resolve(op.warehouse)));
      const productIds = await this.products.idsOf(write.operations.map((op) => op.product));
      const keys = productIds.map((productId, i) => ({ warehouseId: warehouses[i].id, productId }));
      const outcome = await new Promise<Outcome>((settle) => {
        const size = write.operations.length;
        const exclusiveKey = claim && `${claim.scope.userId}\n${claim.scope.route}\n${claim.scope.key}`;
        this.queue.push({ ctx, write, shape, claim, warehouses, productIds, keys, size, exclusiveKey, settle });
      });
      if ('error' in outcome) throw outcome.error;
      this.metrics.stockTransactionDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      for (const m of outcome.movements) this.metrics.stockMovements.inc({ type: m.type });
      return outcome.answer as Body;
    } catch (error) {
      if (claim && duplicateKey(error)) await this.idempotency.replayIfKnown(claim);
      if (error instanceof ApiError && error.status < 500) {
        this.metrics.stockRejections.inc({ reason: error.code });
        if (claim && (error.status === 404 || error.status === 409)) {
          await this.idempotency.rememberRefusal(ctx, claim, error);
        }
      }
      throw error;
    }
  }

  private async runGroup(group: Pending[]): Promise<void> {
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

  /** One transaction for a group: lock everything it touches, plan each write in turn, write, commit. */
  private async commitGroup(tx: Transaction, group: Pending[]): Promise<Outcome[]> {
    const now = new Date();
    const distinct = [...new Map(group.flatMap((p) => p.keys).map((k) => [levelKeyOf(k), k])).values()];
    const lockStarted = process.hrtime.bigint();
    const { created, ...locked } = await this.lock(tx, group, distinct, now);
    this.metrics.lockWait.observe(Number(process.hrtime.bigint() - lockStarted) / 1e9);

    const movements: NewMovement[] = [];
    const accepted: Accepted[] = [];
    const outcomes = group.map((pending, index): Outcome => {
      try {
        const firstMovement = movements.length;
        const planned = plan(pending, locked, now, firstMovement);
        const answer = pending.shape(planned.result);
        for (const [key, value] of planned.end) locked.onHand.set(key, value);
        movements.push(...planned.movements);
        accepted.push({ index, firstMovement, result: planned.result, answer });
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
    const leavesRow = (p: Pending) => p.keys.some((k) => created.has(levelKeyOf(k)) && !touched.has(levelKeyOf(k)));
    if (group.some((p, i) => refused(i) && leavesRow(p))) {
      throw new Regroup(new Set(group.flatMap((_, i) => (refused(i) ? [i] : []))));
    }
    if (!movements.length) return outcomes; // every write refused: nothing to write (runInline commits)

    // every level a movement touched, even one back where it started: its updatedAt is the answer's
    const levels = distinct
      .filter((k) => touched.has(levelKeyOf(k)))
      .map((k) => ({ ...k, onHand: locked.onHand.get(levelKeyOf(k))! }));
    const firstId = await tx.commitWithInsert(
      this.levelRows.setOnHand(levels, now),
      this.movementRows.appendMovements(movements),
      (ids) => [
        this.audit.appendForInserted(
          accepted.map((write) => this.auditEntry(group[write.index], write)),
          now,
          ids,
        ),
        ...this.idempotency.storeAnswers(
          accepted.flatMap(({ index, answer }) =>
            group[index].claim ? [{ claim: group[index].claim!, body: answer }] : [],
          ),
          now,
          ids,
        ),
      ],
    );
    // the answers, like the stored copies, carry the real movement ids
    for (const { index, answer, result } of accepted) {
      outcomes[index] = { answer: withIds(answer, firstId), movements: result.movements };
    }
    return outcomes;
  }

  /**
   * The locking reads of a group, in one round trip with BEGIN on MySQL: the active products with a
   * shared lock (an archive, which takes the product row exclusively first, cannot slip in), then the
   * level rows FOR UPDATE in ascending (warehouse, product) order — the one order every stock write
   * uses. A missing level row that a write may add to is created, race-free; any other missing level
   * reads as 0 without a row — a write could only take from it, and is refused — so refused writes
   * never contend on creating rows nobody keeps.
   */
  private async lock(
    tx: Transaction,
    group: Pending[],
    distinct: LevelKey[],
    now: Date,
  ): Promise<Locked & { created: Set<string> }> {
    const sorted = [...distinct].sort(levelOrder);
    const productIds = [...new Set(group.flatMap((p) => p.productIds))];
    const [skus, found] = await tx.query([
      this.productRows.lockActiveSkus(productIds),
      this.levelRows.lockForUpdate(sorted),
    ]);
    const mayAdd = new Set(group.flatMap(levelsItMayAddTo));
    // only for active products: a write naming another is refused and must leave no row behind
    const missing = sorted.filter(
      (k) => !found.has(levelKeyOf(k)) && skus.has(k.productId) && mayAdd.has(levelKeyOf(k)),
    );
    let onHand = found;
    if (missing.length) {
      [, onHand] = await tx.query([this.levelRows.insertMissing(missing, now), this.levelRows.lockForUpdate(sorted)]);
    }
    // a level without a row (nobody may add to it here) reads as 0
    return {
      skus,
      created: new Set(missing.map((k) => levelKeyOf(k))),
      onHand: new Map([...sorted.map((k): [string, number] => [levelKeyOf(k), 0]), ...onHand]),
    };
  }

  /** A write's audit entry: its entity is its first movement, `after` lists its movements. */
  private auditEntry({ ctx, write }: Pending, { firstMovement, result }: Accepted): InsertedRowEntry {
    return {
      actor: { id: ctx.user.id, username: ctx.user.username, role: ctx.user.role },
      action: write.action,
      entityType: 'movement',
      entityRow: firstMovement,
      before: null,
      after: { movements: result.movements },
      requestId: ctx.requestId,
      ip: ctx.ip,
    };
  }
}
