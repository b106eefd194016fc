import { Injectable } from '@nestjs/common';
import { RequestContext } from '../../../common/decorators/auth.decorators';
import { ApiError } from '../../../common/errors/api-error';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { decodeCursor, Page, pageSize, toPage } from '../../../common/http/pagination';
import { Idempotency } from '../idempotency.service';
import { StockLedgerService } from '../stock-ledger.service';
import { StockAction, StockResult, StockWrite } from '../stock-planner';
import { productRef, StockService } from '../stock.service';
import { CreateReservationDto, DEFAULT_RESERVATION_TTL_SECONDS, ReservationsQuery } from './dto/reservation.dto';
import { ReservationRecord, ReservationView, toReservationView } from './reservation.views';
import { ReservationsRepository } from './reservations.repository';

type Outcome = 'created' | 'confirmed' | 'cancelled';

/** Reservations: thin callers of the stock write path (a hold is a stock write), and the reads. */
@Injectable()
export class ReservationsService {
  constructor(
    private readonly ledger: StockLedgerService,
    private readonly stock: StockService,
    private readonly reservations: ReservationsRepository,
    private readonly metrics: MetricsService,
  ) {}

  /** Holds every line's quantity of its level's available stock, all or nothing; no movement. */
  create(ctx: RequestContext, dto: CreateReservationDto, idempotency?: Idempotency) {
    const write: StockWrite = {
      action: 'stock.reserve',
      operations: dto.lines.map((line, i) => ({
        type: null,
        product: productRef(line, `lines.${i}.`),
        warehouse: line.warehouse,
        hold: line.quantity,
        takesAvailable: true,
      })),
      reference: dto.reference,
      note: dto.note,
      reservation: { kind: 'create', ttlSeconds: dto.ttlSeconds ?? DEFAULT_RESERVATION_TTL_SECONDS },
    };
    return this.counted('created', () =>
      this.ledger.apply(ctx, write, ({ reservation, levels }) => ({ reservation, levels }), idempotency),
    );
  }

  /** One OUT movement per line and the hold released, in one transaction. */
  confirm(ctx: RequestContext, id: number, idempotency?: Idempotency) {
    const write = async () => {
      const record = await this.find(id);
      return this.ending(record, 'stock.reservation.confirm', { kind: 'confirm', record }, (line) => ({
        type: 'OUT' as const,
        delta: -line.quantity,
        hold: -line.quantity,
      }));
    };
    const shape = ({ reservation, movements, levels }: StockResult) => ({ reservation, movements, levels });
    return this.counted('confirmed', () => this.ledger.apply(ctx, write, shape, idempotency));
  }

  /** The hold released; nothing moves. */
  cancel(ctx: RequestContext, id: number, idempotency?: Idempotency) {
    const write = async () => {
      const record = await this.find(id);
      return this.ending(record, 'stock.reservation.cancel', { kind: 'cancel', record }, (line) => ({
        type: null,
        hold: -line.quantity,
      }));
    };
    const shape = ({ reservation, levels }: StockResult) => ({ reservation, levels });
    return this.counted('cancelled', () => this.ledger.apply(ctx, write, shape, idempotency, 200));
  }

  async get(id: number): Promise<ReservationView> {
    return toReservationView(await this.find(id));
  }

  /** Newest first; a product filter names it by id or SKU, archived or not (its history stays readable). */
  async list(query: ReservationsQuery): Promise<Page<ReservationView>> {
    const limit = pageSize(query);
    const { productId } = await this.stock.filterIds({ productId: query.productId, sku: query.sku });
    const rows = await this.reservations.list({
      status: query.status,
      productId,
      reference: query.reference,
      beforeId: decodeCursor(query.cursor),
      take: limit + 1,
    });
    return toPage(rows, limit, toReservationView);
  }

  /** The write that ends a reservation: one operation per line (lines never change, so they are read unlocked). */
  private ending(
    record: ReservationRecord,
    action: StockAction,
    reservation: StockWrite['reservation'],
    operation: (line: ReservationRecord['lines'][number]) => { type: 'OUT' | null; delta?: number; hold: number },
  ): StockWrite {
    return {
      action,
      operations: record.lines.map((line) => ({
        product: { productId: line.productId },
        warehouse: line.warehouse,
        ...operation(line),
      })),
      reference: record.reference,
      note: `reservation ${record.id}`,
      reservation,
    };
  }

  private async find(id: number): Promise<ReservationRecord> {
    const [record] = await this.reservations.findRecords([id]);
    if (!record) throw ApiError.notFound('Reservation', { reservationId: id });
    return record;
  }

  /** Counts the outcome in inventory_reservations_total: what it did, or `rejected` for a refusal. */
  private async counted<T>(outcome: Outcome, write: () => Promise<T>): Promise<T> {
    try {
      const answer = await write();
      this.metrics.reservations.inc({ outcome });
      return answer;
    } catch (error) {
      if (error instanceof ApiError && error.status < 500) this.metrics.reservations.inc({ outcome: 'rejected' });
      throw error;
    }
  }
}
