import { Injectable } from '@nestjs/common';
import { RequestContext } from '../../common/decorators/auth.decorators';
import { ApiError } from '../../common/errors/api-error';
import { parseIfMatch } from '../../common/http/if-match';
import { Page, decodeCursor, pageSize, toPage } from '../../common/http/pagination';
import { TransactionService } from '../../database/transaction.service';
import { auditEntry } from '../audit/audit-context';
import { AuditRepository } from '../audit/audit.repository';
import { Product } from './entities/product.entity';
import {
  CreateProductDto,
  ListProductsQuery,
  ProductDetailView,
  ProductView,
  toProductView,
  UpdateProductDto,
} from './dto/product.dto';
import { ProductsRepository } from './products.repository';

const notFound = (id: number) => ApiError.notFound('Product', { productId: id });

@Injectable()
export class ProductsService {
  constructor(
    private readonly products: ProductsRepository,
    private readonly audit: AuditRepository,
    private readonly tx: TransactionService,
  ) {}

  create(ctx: RequestContext, dto: CreateProductDto): Promise<ProductView> {
    const now = new Date();
    return this.tx.run(async (manager) => {
      const product = await this.products.insert(manager, {
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
      });
      const view = toProductView(product, 0);
      await this.audit.append(manager, auditEntry(ctx, 'product.create', 'product', product.id, null, view));
      return view;
    });
  }

  async list(query: ListProductsQuery): Promise<Page<ProductView>> {
    const limit = pageSize(query);
    const rows = await this.products.list({
      afterId: decodeCursor(query.cursor),
      take: limit + 1,
      search: query.search,
      skuKey: query.sku?.toLowerCase(),
      lowStock: query.lowStock,
    });
    return toPage(
      rows,
      limit,
      (row) => toProductView(row.product, row.onHand),
      (row) => row.product.id,
    );
  }

  async get(id: number): Promise<ProductDetailView> {
    const product = await this.products.findActiveById(id);
    if (!product) throw notFound(id);
    const stock = await this.products.stockByWarehouse(id);
    const onHand = stock.reduce((sum, level) => sum + level.onHand, 0);
    return { ...toProductView(product, onHand), stock };
  }

  /** Updates under the row lock; with If-Match a stale version is refused before anything changes. */
  async update(
    ctx: RequestContext,
    id: number,
    dto: UpdateProductDto,
    ifMatch: string | undefined,
  ): Promise<ProductView> {
    const expected = parseIfMatch(ifMatch);
    return this.tx.run(async (manager) => {
      const product = await this.products.lockActiveById(manager, id);
      if (!product) throw notFound(id);
      if (expected !== undefined && expected !== 'any' && expected !== product.version) {
        throw new ApiError('VERSION_MISMATCH', 'The product has changed since that version', {
          currentVersion: product.version,
        });
      }
      const onHand = (await this.products.stockByWarehouse(id, manager)).reduce((sum, l) => sum + l.onHand, 0);
      const changes: Partial<Product> = {};
      if (dto.name !== undefined) changes.name = dto.name;
      if (dto.description !== undefined) changes.description = dto.description;
      if (dto.unit !== undefined) changes.unit = dto.unit;
      if (dto.reorderPoint !== undefined) changes.reorderPoint = dto.reorderPoint;
      if (Object.keys(changes).length === 0) return toProductView(product, onHand);
      changes.version = product.version + 1;
      changes.updatedAt = new Date();
      await this.products.update(manager, id, changes);
      const before = toProductView(product, onHand);
      const after = toProductView({ ...product, ...changes }, onHand);
      await this.audit.append(manager, auditEntry(ctx, 'product.update', 'product', id, before, after));
      return after;
    });
  }

  /** Archives, never erases: the SKU stays taken and the product's history stays readable. */
  async archive(ctx: RequestContext, id: number): Promise<void> {
    await this.tx.run(async (manager) => {
      const product = await this.products.lockActiveById(manager, id);
      if (!product) throw notFound(id);
      const onHand = await this.products.lockedOnHand(manager, id);
      if (onHand > 0) {
        throw new ApiError('PRODUCT_HAS_STOCK', 'The product still has stock', { productId: id, onHand });
      }
      const archivedAt = new Date();
      await this.products.update(manager, id, { archivedAt, updatedAt: archivedAt });
      const before = toProductView(product, 0);
      await this.audit.append(manager, auditEntry(ctx, 'product.delete', 'product', id, before, null));
    });
  }
}
