import { Injectable } from '@nestjs/common';
import { Context } from '@opentelemetry/api';
import { RequestContext } from '../../common/decorators/auth.decorators';
import { ApiError } from '../../common/errors/api-error';
import { MetricsService } from '../../common/metrics/metrics.service';
import { annotateSpan, currentContext, inSpan } from '../../common/tracing/tracing';
import { duplicateKey, InsertedIds, NO_INSERTED_IDS, Statement, withIds } from '../../database/dialect';
import { SequencesRepository } from '../../database/sequences.repository';
import { Transaction } from '../../database/transaction';
import { TransactionService } from '../../database/transaction.service';
import { AuditRepository, InsertedRowEntry } from '../audit/audit.repository';
import { EventSequencer } from '../events/event-sequencer.service';
import { EventsRepository } from '../events/events.repository';
import { isLow, NewEvent, thresholdEvent } from '../events/new-event';
import { ProductsRepository, StockedProduct } from '../products/products.repository';
import { ProductsService } from '../products/products.service';
import { ReadCache } from '../read-cache/read-cache.service';
import { WarehousesService } from '../warehouses/warehouses.service';
import { GroupCommitQueue } from './group-commit';
import { Claim, Idempotency, IdempotencyService } from './idempotency.service';
import { LevelKey, levelKeyOf, levelOrder, LevelState } from './levels/level-key';
import { StockLevelsRepository } from './levels/stock-levels.repository';
import { ReservationRecord, toReservationView } from './reservations/reservation.views';
import { ReservationsRepository, ReservationState } from './reservations/reservations.repository';
import { StockRepository, NewMovement } from './stock.repository';
import { levelsItMayAddTo, Locked, plan, Plan, ResolvedWrite, StockResult, StockWrite } from './stock-planner';

/** The sequence reservation ids come from (database/sequences.repository.ts). */
const RESERVATION_IDS = 'reservations';
/** The service itself, as the actor of what no user asked for (a reservation's expiry). */
const SYSTEM = { id: 0, username: 'system', role: 'admin' as const };

const sizeOf = (group: Pending[]) => group.reduce((total, p) => total + p.size, 0);

/** A stock write waiting for its group, with everything resolved that needs no lock. */
interface Pending extends ResolvedWrite {
  shape: (result: StockResult) => unknown;
  /** The answer's HTTP status, kept with an Idempotency-Key. */
  status: number;
  claim?: Claim;
  size: number;
  exclusiveKey?: string;
  settle: (outcome: Outcome) => void;
  /** The trace context of the request it came from: its group's span is that request's child or linked. */
  trace: Context;
}

type Outcome = { answer: unknown; movements: { type: string }[] } | { error: unknown };

/** A write of the group that passed its checks, waiting for the group's COMMIT. */
interface Accepted {
  index: number;
  /** Index of its first movement in the group's. */
  firstMovement: number;
  planned: Plan;
  answer: unknown;
}

/** A product a group locked: its SKU, reorder point and total available as the writes before leave it. */
interface ProductTotal extends StockedProduct {
  available: number;
}

const RESERVATION_EVENTS = {
  create: 'reservation.created',
  confirm: 'reservation.confirmed',
  cancel: 'reservation.cancelled',
  expire: 'reservation.expired',
} as const;

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
 * any check — stock-planner.ts), refuses anything below 0 (or below what reservations hold, for what
 * takes available stock) or above 2^53-1, appends one movement per change with its balanceAfter,
 * writes the audit entry and — with an Idempotency-Key — the answer, then commits. In, out, adjust,
 * transfer, batch and the reservations' create, confirm, cancel and expiry are thin callers; a
 * reservation write also locks its reservation row (before the levels, in id order).
 *
 * Group commit (group-commit.ts): writes that arrive while earlier ones hold the database join one
 * transaction — one lock round trip and one write round trip for all of them. Each is applied in
 * arrival order on the state the ones before it left, exactly as if they had run one after
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
    private readonly reservationRows: ReservationsRepository,
    private readonly sequences: SequencesRepository,
    private readonly products: ProductsService,
    private readonly productRows: ProductsRepository,
    private readonly warehouses: WarehousesService,
    private readonly audit: AuditRepository,
    private readonly events: EventsRepository,
    private readonly sequencer: EventSequencer,
    private readonly idempotency: IdempotencyService,
    private readonly tx: TransactionService,
    private readonly metrics: MetricsService,
    private readonly cache: ReadCache,
  ) {}

  /**
   * Applies a write and shapes its answer; with `idempotency`, the first answer is kept (with `status`)
   * and replayed. A write given as a function is built once the key is claimed: a refusal while
   * building it (an unknown reservation) is kept as the key's answer too.
   */
  async apply<Body>(
    ctx: RequestContext,
    write: StockWrite | (() => Promise<StockWrite>),
    shape: (result: StockResult) => Body,
    idempotency?: Idempotency,
    status = 201,
  ): Promise<Body> {
    const claim = idempotency && (await this.idempotency.claim(ctx.user.id, idempotency));
    const started = process.hrtime.bigint();
    try {
      const answer = await this.enqueue(ctx, typeof write === 'function' ? await write() : write, shape, status, claim);
      this.metrics.stockTransactionDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      return answer;
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

  /**
   * Expires a reservation whose time is up, as the service itself. False when it is no longer ACTIVE
   * or another instance is expiring it at this moment (its row lock is passed over, not waited for).
   */
  async expire(record: ReservationRecord): Promise<boolean> {
    const ctx = { user: SYSTEM, requestId: `expiry-${record.id}`, ip: 'local' };
    const write: StockWrite = {
      action: 'stock.reservation.expire',
      operations: record.lines.map((line) => ({
        type: null,
        product: { productId: line.productId },
        warehouse: line.warehouse,
        hold: -line.quantity,
      })),
      reservation: { kind: 'expire', record },
    };
    try {
      await this.enqueue(ctx, write, () => null, 200);
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.code === 'RESERVATION_NOT_ACTIVE') return false;
      throw error;
    }
  }

  /** Resolves the write's names, waits for its group, and answers once the group has committed. */
  private async enqueue<Body>(
    ctx: RequestContext,
    write: StockWrite,
    shape: (result: StockResult) => Body,
    status: number,
    claim?: Claim,
  ): Promise<Body> {
    // names resolve before the transaction (warehouses and SKUs never change): it never waits on a second connection
    const warehouses = await Promise.all(write.operations.map((op) => this.warehouses.resolve(op.warehouse)));
    const productIds = await this.products.idsOf(write.operations.map((op) => op.product));
    const keys = productIds.map((productId, i) => ({ warehouseId: warehouses[i].id, productId }));
    const outcome = await new Promise<Outcome>((settle) => {
      const size = write.operations.length;
      const exclusiveKey = claim && `${claim.scope.userId}\n${claim.scope.route}\n${claim.scope.key}`;
      this.queue.push({
        ctx,
        write,
        shape,
        status,
        claim,
        warehouses,
        productIds,
        keys,
        size,
        exclusiveKey,
        settle,
        trace: currentContext(),
      });
    });
    if ('error' in outcome) throw outcome.error;
    for (const m of outcome.movements) this.metrics.stockMovements.inc({ type: m.type });
    return outcome.answer as Body;
  }

  private async runGroup(group: Pending[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      // traced as a child of the first write's request, linked to the others'
      const attributes = { 'inventory.group.writes': group.length, 'inventory.group.operations': sizeOf(group) };
      outcomes = await inSpan(
        'stock.group',
        group.map((p) => p.trace),
        attributes,
        // READ COMMITTED: the row locks taken in order are the whole guarantee, and without REPEATABLE
        // READ's gap locks two groups adding new levels (an import's opening counts, first stock of new
        // products) no longer deadlock on the gap they both locked while finding the row missing
        () =>
          this.cache.writing(
            group.flatMap((p) => p.productIds),
            () => this.tx.runInline((tx) => this.commitGroup(tx, group), { readCommitted: true }),
          ),
      );
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
    if (outcomes.some((o) => !('error' in o))) this.sequencer.kick(); // committed events to place in the feed
    group.forEach((pending, i) => pending.settle(outcomes[i]));
  }

  /** One transaction for a group: lock everything it touches, plan each write in turn, write, commit. */
  private async commitGroup(tx: Transaction, group: Pending[]): Promise<Outcome[]> {
    const now = new Date();
    const distinct = [...new Map(group.flatMap((p) => p.keys).map((k) => [levelKeyOf(k), k])).values()];
    const lockStarted = process.hrtime.bigint();
    const { created, totals, ...locked } = await this.lock(tx, group, distinct, now);
    const lockWait = Number(process.hrtime.bigint() - lockStarted) / 1e9;
    this.metrics.lockWait.observe(lockWait);
    annotateSpan({ 'inventory.lock_wait_ms': lockWait * 1000 });

    const firstReservationId = locked.nextReservationId;
    const movements: NewMovement[] = [];
    const events: NewEvent[] = [];
    const accepted: Accepted[] = [];
    const productOf = new Map(distinct.map((k) => [levelKeyOf(k), k.productId]));
    const outcomes = group.map((pending, index): Outcome => {
      try {
        const firstMovement = movements.length;
        const planned = plan(pending, locked, now, firstMovement);
        const answer = pending.shape(planned.result);
        events.push(...this.eventsOf(pending, planned, locked.levels, productOf, totals));
        // what the write leaves is what the next one in the group sees
        for (const [key, value] of planned.end) locked.levels.set(key, value);
        const reservation = planned.reservation?.record;
        if (planned.reservation?.created) locked.nextReservationId!++;
        else if (reservation) locked.reservations.set(reservation.id, reservation);
        movements.push(...planned.movements);
        accepted.push({ index, firstMovement, planned, answer });
        return { answer, movements: planned.result.movements };
      } catch (error) {
        if (error instanceof ApiError) return { error }; // refused alone; the rest of the group goes on
        throw error;
      }
    });
    const refused = (i: number) => 'error' in outcomes[i];
    if (group.length === 1 && refused(0)) throw (outcomes[0] as { error: unknown }).error; // rolls back, created rows too
    // a refused write must leave no trace: not even a level row created for it
    const touched = new Set(accepted.flatMap(({ index }) => group[index].keys.map(levelKeyOf)));
    const leavesRow = (p: Pending) => p.keys.some((k) => created.has(levelKeyOf(k)) && !touched.has(levelKeyOf(k)));
    if (group.some((p, i) => refused(i) && leavesRow(p))) {
      throw new Regroup(new Set(group.flatMap((_, i) => (refused(i) ? [i] : []))));
    }
    if (!accepted.length) return outcomes; // every write refused: nothing to write (runInline commits)

    // every level an accepted write touched, even one back where it started: its updatedAt is the answer's
    const levels = distinct
      .filter((k) => touched.has(levelKeyOf(k)))
      .map((k) => ({ ...k, ...locked.levels.get(levelKeyOf(k))! }));
    const reservations = accepted.flatMap(({ planned }) => (planned.reservation ? [planned.reservation] : []));
    // products whose stored low flag the group's end state contradicts (it crossed the reorder point)
    const lowNow = new Map(
      [...totals].flatMap(([id, t]): [number, boolean][] => {
        const low = isLow(t.available, t.reorderPoint);
        return low === t.low ? [] : [[id, low]];
      }),
    );
    const before: Statement[] = [
      ...(lowNow.size ? [this.productRows.setLow(lowNow)] : []),
      ...this.levelRows.setLevels(levels, now),
      ...this.reservationRows.close(reservations.filter((r) => !r.created).map(({ record }) => record)),
    ];
    const createdReservations = reservations.filter((r) => r.created).map(({ record }) => record);
    if (createdReservations.length) {
      before.push(...this.reservationRows.insert(createdReservations));
      before.push(this.sequences.advance(RESERVATION_IDS, firstReservationId! + createdReservations.length));
    }
    const after = (ids: InsertedIds) => [
      ...(events.length ? [this.events.appendForInserted(events, now, ids)] : []),
      this.audit.appendForInserted(
        accepted.map((write) => this.auditEntry(group[write.index], write)),
        now,
        ids,
      ),
      ...this.idempotency.storeAnswers(
        accepted.flatMap(({ index, answer }) => {
          const { claim, status } = group[index];
          return claim ? [{ claim, status, body: answer }] : [];
        }),
        now,
        ids,
      ),
    ];
    // a group without movements inserts no rows its other statements refer to
    const firstId = movements.length
      ? await tx.commitWithInsert(before, this.movementRows.appendMovements(movements), after)
      : (await tx.commitWith([...before, ...after(NO_INSERTED_IDS)]), 0);
    // the answers, like the stored copies, carry the real movement ids
    for (const { index, answer, planned } of accepted) {
      outcomes[index] = { answer: withIds(answer, firstId), movements: planned.result.movements };
    }
    return outcomes;
  }

  /**
   * The locking reads of a group, in one round trip with BEGIN on MySQL: the reservation id sequence
   * when the group creates one; the reservations it confirms or cancels, FOR UPDATE, and those it
   * expires, skipping any another transaction holds; the active products FOR UPDATE (an archive or
   * a reorder-point change cannot slip in, and one write at a time reads a product's total available,
   * right after); then the level rows FOR UPDATE in ascending (warehouse, product) order — the one order every stock write uses. A missing
   * level row that a write may add to is created, race-free; any other missing level reads as 0 without
   * a row — a write could only take from it, and is refused — so refused writes never contend on
   * creating rows nobody keeps.
   */
  private async lock(
    tx: Transaction,
    group: Pending[],
    distinct: LevelKey[],
    now: Date,
  ): Promise<Locked & { created: Set<string>; totals: Map<number, ProductTotal> }> {
    const sorted = [...distinct].sort(levelOrder);
    const productIds = [...new Set(group.flatMap((p) => p.productIds))];
    const ending = (kinds: string[]) =>
      [
        ...new Set(
          group.flatMap(({ write: { reservation: r } }) =>
            r && r.kind !== 'create' && kinds.includes(r.kind) ? [r.record.id] : [],
          ),
        ),
      ].sort((a, b) => a - b);
    const waitFor = ending(['confirm', 'cancel']);
    const passOver = ending(['expire']).filter((id) => !waitFor.includes(id));
    const creates = group.some(({ write }) => write.reservation?.kind === 'create');

    const statements: Statement<unknown>[] = [];
    const read = <T>(statement: Statement<T>) => statements.push(statement) - 1;
    const sequence = creates ? read(this.sequences.lockNext(RESERVATION_IDS)) : -1;
    const waited = waitFor.length ? read(this.reservationRows.lockStates(waitFor, false)) : -1;
    const passed = passOver.length ? read(this.reservationRows.lockStates(passOver, true)) : -1;
    const products = read(this.productRows.lockForStock(productIds));
    const found = read(this.levelRows.lockForUpdate(sorted));
    // read after the products' locks: every earlier write to them has committed
    const levelTotals = read(this.levelRows.totals(productIds));
    const results = await tx.query(statements);

    const states = (i: number) => (i < 0 ? [] : [...(results[i] as Map<number, ReservationState>)]);
    const mayAdd = new Set(group.flatMap(levelsItMayAddTo));
    const foundLevels = results[found] as Map<string, LevelState>;
    const activeProducts = results[products] as Map<number, StockedProduct>;
    const totalsNow = results[levelTotals] as Map<number, LevelState>;
    const activeSkus = new Map([...activeProducts].map(([id, p]) => [id, p.sku]));
    const totals = new Map(
      [...activeProducts].map(([id, p]): [number, ProductTotal] => [
        id,
        { ...p, available: (totalsNow.get(id)?.onHand ?? 0) - (totalsNow.get(id)?.reserved ?? 0) },
      ]),
    );
    // only for active products: a write naming another is refused and must leave no row behind
    const missing = sorted.filter(
      (k) => !foundLevels.has(levelKeyOf(k)) && activeSkus.has(k.productId) && mayAdd.has(levelKeyOf(k)),
    );
    let levels = foundLevels;
    if (missing.length) {
      [, levels] = await tx.query([this.levelRows.insertMissing(missing, now), this.levelRows.lockForUpdate(sorted)]);
    }
    // a level without a row (nobody may add to it here) reads as 0
    const empty = (): LevelState => ({ onHand: 0, reserved: 0 });
    return {
      skus: activeSkus,
      totals,
      created: new Set(missing.map((k) => levelKeyOf(k))),
      levels: new Map([...sorted.map((k): [string, LevelState] => [levelKeyOf(k), empty()]), ...levels]),
      reservations: new Map([...states(waited), ...states(passed)]),
      nextReservationId: sequence < 0 ? undefined : (results[sequence] as number),
    };
  }

  /**
   * A write's events, in the order the feed shows them: one stock.movement per movement, the
   * reservation's own event, then stock.low / stock.restocked for each product whose total available
   * crosses its reorder point (`levels` is the group's state before this write; `totals` moves on).
   */
  private eventsOf(
    { write }: Pending,
    planned: Plan,
    levels: Map<string, LevelState>,
    productOf: Map<string, number>,
    totals: Map<number, ProductTotal>,
  ): NewEvent[] {
    const events: NewEvent[] = planned.result.movements.map((m) => ({
      type: 'stock.movement',
      products: [m.productId],
      data: m,
    }));
    const reservation = planned.result.reservation;
    if (write.reservation && reservation) {
      events.push({
        type: RESERVATION_EVENTS[write.reservation.kind],
        products: [...new Set(reservation.lines.map((l) => l.productId))],
        data: reservation,
      });
    }
    const change = new Map<number, number>();
    for (const [key, end] of planned.end) {
      const start = levels.get(key)!;
      const productId = productOf.get(key)!;
      change.set(
        productId,
        (change.get(productId) ?? 0) + (end.onHand - end.reserved) - (start.onHand - start.reserved),
      );
    }
    for (const [productId, delta] of change) {
      const total = totals.get(productId)!;
      const available = total.available + delta;
      const crossing = thresholdEvent({ productId, ...total }, total, available);
      if (crossing) events.push(crossing);
      total.available = available;
    }
    return events;
  }

  /**
   * A write's audit entry. A stock write's entity is its first movement and `after` lists its movements;
   * a reservation write's is the reservation, `before` and `after` it as the write found and left it
   * (with a confirmation's movements). An expiry has no actor.
   */
  private auditEntry({ ctx, write }: Pending, { firstMovement, planned }: Accepted): InsertedRowEntry {
    const actor = write.reservation?.kind === 'expire' ? { id: null, username: null, role: null } : ctx.user;
    const common = {
      actor: { id: actor.id, username: actor.username, role: actor.role },
      action: write.action,
      requestId: ctx.requestId,
      ip: ctx.ip,
    };
    const change = write.reservation;
    if (!change) {
      const after = { movements: planned.result.movements };
      return { ...common, entityType: 'movement', entityRow: firstMovement, before: null, after };
    }
    const { reservation, movements } = planned.result;
    return {
      ...common,
      entityType: 'reservation',
      entityId: String(reservation!.id),
      before: change.kind === 'create' ? null : toReservationView(change.record),
      after: movements.length ? { reservation, movements } : { reservation },
    };
  }
}
