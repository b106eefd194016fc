import { Injectable } from '@nestjs/common';
import { RequestContext } from '../../common/decorators/auth.decorators';
import { ApiError } from '../../common/errors/api-error';
import { parseIfMatch } from '../../common/http/if-match';
import { Page, decodeCursor, pageSize, toPage } from '../../common/http/pagination';
import { TransactionService } from '../../database/transaction.service';
import { auditEntry } from '../audit/audit-context';
import { AuditRepository } from '../audit/audit.repository';
import { EventSequencer } from '../events/event-sequencer.service';
import { EventsRepository } from '../events/events.repository';
import { isLow, NewEvent, thresholdEvent } from '../events/new-event';
import { ReadCache } from '../read-cache/read-cache.service';
import { StockLevelsRepository } from '../stock/levels/stock-levels.repository';
import { Product } from './entities/product.entity';
import {
  CreateProductDto,
  ListProductsQuery,
  ProductDetailView,
  ProductView,
  toProductView,
  UpdateProductDto,
} from './dto/product.dto';
import { ProductRef, productNotFound } from './product-ref';
import { ProductsRepository } from './products.repository';

const productEvent = (
  type: 'product.created' | 'product.updated' | 'product.archived',
  product: ProductDetailView,
): NewEvent => ({
  type,
  products: [product.id],
  data: product,
});

const notFound = (id: number) => ApiError.notFound('Product', { productId: id });

/** For batches that overlap: the batch before has taken its ids (`after`); `inserted` says this one has. */
export interface IdOrder {
  after: Promise<void>;
  inserted: () => void;
}

@Injectable()
export class ProductsService {
  /** Product id by lower-cased SKU: a SKU never changes owner, so a found one is kept. */
  private readonly idBySkuKey = new Map<string, number>();

  constructor(
    private readonly products: ProductsRepository,
    private readonly levels: StockLevelsRepository,
    private readonly audit: AuditRepository,
    private readonly events: EventsRepository,
    private readonly sequencer: EventSequencer,
    private readonly tx: TransactionService,
    private readonly cache: ReadCache,
  ) {}

  async create(ctx: RequestContext, dto: CreateProductDto): Promise<ProductView> {
    const [view] = await this.createMany(ctx, [dto]);
    return view;
  }

  /**
   * Creates products in one transaction — their rows, search terms, audit entries and product.created
   * events, each kind in one multi-row INSERT — as `create` does one at a time (the CSV import's path).
   * All or nothing: a taken SKU fails the lot (409 SKU_TAKEN, the caller may then create one by one).
   * `order` lets batches overlap yet take ids in the caller's order: the transaction starts after
   * `after` (outside it: on SQLite, where transactions queue, waiting inside could hold up the one
   * awaited), and `inserted` is called once the products' INSERT has run (the batch's ids are taken).
   * Only a batch retried after a deadlock takes its ids anew, after those of a batch that overlapped it.
   */
  async createMany(ctx: RequestContext, dtos: CreateProductDto[], order?: IdOrder): Promise<ProductView[]> {
    await order?.after;
    this.cache.assertWritable();
    const now = new Date();
    return this.tx
      .run(async (manager) => {
        const products = await this.products.insertMany(
          manager,
          dtos.map((dto) => ({
            sku: dto.sku,
            skuKey: dto.sku.toLowerCase(),
            name: dto.name,
            description: dto.description ?? null,
            unit: dto.unit ?? 'pcs',
            reorderPoint: dto.reorderPoint ?? 0,
            version: 1,
            createdAt: now,
            updatedAt: now,
            archivedAt: null,
            low: true, // nothing available yet: at or below any reorder point
          })),
        );
        order?.inserted();
        await this.products.indexNewTerms(manager, products);
        const views = products.map((product) => toProductView(product, 0));
        await this.audit.appendMany(
          manager,
          views.map((view) => auditEntry(ctx, 'product.create', 'product', view.id, null, view)),
        );
        // a new product starts low (nothing available), with no stock.low event
        await this.events.append(
          manager,
          views.map((view) => productEvent('product.created', { ...view, stock: [] })),
          now,
        );
        return views;
      })
      .finally(() => this.sequencer.kick());
  }

  /**
   * Each named product's id, in order; SKUs resolve in one query for those not known yet (archived ones
   * too: the stock write refuses them under its lock). 404 naming the first unknown one.
   */
  async idsOf(refs: ProductRef[]): Promise<number[]> {
    const unknown = new Set<string>();
    for (const { sku } of refs)
      if (sku !== undefined && !this.idBySkuKey.has(sku.toLowerCase())) unknown.add(sku.toLowerCase());
    for (const [skuKey, id] of await this.products.findIdsBySkuKey([...unknown])) this.idBySkuKey.set(skuKey, id);
    return refs.map((ref) => {
      const id = ref.productId ?? this.idBySkuKey.get(ref.sku!.toLowerCase());
      if (id === undefined) throw productNotFound(ref);
      return id;
    });
  }

  async list(query: ListProductsQuery): Promise<Page<ProductView>> {
    const limit = pageSize(query);
    const filter = {
      afterId: decodeCursor(query.cursor),
      take: limit + 1,
      search: query.search,
      skuKey: query.sku?.toLowerCase(),
      lowStock: query.lowStock,
    };
    const rows = await this.products.list(filter, this.levels.onHandTotalSql('p.id'));
    return toPage(
      rows,
      limit,
      (row) => toProductView(row.product, row.onHand),
      (row) => row.product.id,
    );
  }

  get(id: number): Promise<ProductDetailView> {
    return this.cache.read(id, 'product', async () => {
      const product = await this.products.findActiveById(id);
      if (!product) throw notFound(id);
      const stock = await this.levels.byWarehouse(id);
      const onHand = stock.reduce((sum, level) => sum + level.onHand, 0);
      return { ...toProductView(product, onHand), stock };
    });
  }

  /** Updates under the row lock; with If-Match a stale version is refused before anything changes. */
  async update(
    ctx: RequestContext,
    id: number,
    dto: UpdateProductDto,
    ifMatch: string | undefined,
  ): Promise<ProductView> {
    const expected = parseIfMatch(ifMatch);
    return this.cache
      .writing([id], () =>
        this.tx.run(async (manager) => {
          const product = await this.products.lockActiveById(manager, id);
          if (!product) throw notFound(id);
          if (expected !== undefined && expected !== 'any' && expected !== product.version) {
            throw new ApiError('VERSION_MISMATCH', 'The product has changed since that version', {
              currentVersion: product.version,
            });
          }
          const stock = await this.levels.byWarehouse(id, manager);
          const onHand = stock.reduce((sum, l) => sum + l.onHand, 0);
          const changes: Partial<Product> = {};
          if (dto.name !== undefined) changes.name = dto.name;
          if (dto.description !== undefined) changes.description = dto.description;
          if (dto.unit !== undefined) changes.unit = dto.unit;
          if (dto.reorderPoint !== undefined) changes.reorderPoint = dto.reorderPoint;
          if (Object.keys(changes).length === 0) return toProductView(product, onHand);
          changes.version = product.version + 1;
          changes.updatedAt = new Date();
          let crossing: NewEvent | null = null;
          if (changes.reorderPoint !== undefined) {
            // stock writes lock the product first: none is in flight, the levels are as committed
            const { onHand: total, reserved } = await this.levels.lockedTotals(manager, id);
            const available = total - reserved;
            changes.low = isLow(available, changes.reorderPoint);
            crossing = thresholdEvent(
              { productId: id, sku: product.sku, reorderPoint: changes.reorderPoint },
              { available, reorderPoint: product.reorderPoint },
              available,
            );
          }
          await this.products.update(manager, id, changes);
          if (changes.name !== undefined) await this.products.reindexTerms(manager, { ...product, name: changes.name });
          const before = toProductView(product, onHand);
          const after = toProductView({ ...product, ...changes }, onHand);
          await this.audit.append(manager, auditEntry(ctx, 'product.update', 'product', id, before, after));
          const events = [productEvent('product.updated', { ...after, stock }), ...(crossing ? [crossing] : [])];
          await this.events.append(manager, events, changes.updatedAt);
          return after;
        }),
      )
      .finally(() => this.sequencer.kick());
  }

  /** Archives, never erases: the SKU stays taken and the product's history stays readable. */
  async archive(ctx: RequestContext, id: number): Promise<void> {
    await this.cache.writing([id], () =>
      this.tx.run(async (manager) => {
        const product = await this.products.lockActiveById(manager, id);
        if (!product) throw notFound(id);
        // reserved stock counts too: an ACTIVE reservation must stay confirmable
        const { onHand, reserved } = await this.levels.lockedTotals(manager, id);
        if (onHand > 0 || reserved > 0) {
          throw new ApiError('PRODUCT_HAS_STOCK', 'The product still has stock', { productId: id, onHand, reserved });
        }
        const archivedAt = new Date();
        await this.products.update(manager, id, { archivedAt, updatedAt: archivedAt });
        await this.products.removeTerms(manager, id);
        const before = toProductView(product, 0);
        await this.audit.append(manager, auditEntry(ctx, 'product.delete', 'product', id, before, null));
        const stock = await this.levels.byWarehouse(id, manager);
        const archived = { ...toProductView({ ...product, updatedAt: archivedAt }, 0), stock };
        await this.events.append(manager, [productEvent('product.archived', archived)], archivedAt);
      }),
    );
    this.sequencer.kick();
  }
}
