import { Injectable, Logger } from '@nestjs/common';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { csvStream, everyPage, EXPORT_PAGE_SIZE } from '../../common/http/csv';
import { ExportProductsQuery, PRODUCT_CSV_COLUMNS, ProductCsvRow } from './dto/export-products.dto';
import { ProductView } from './dto/product.dto';
import { ProductsService } from './products.service';

interface Totals {
  onHand: number;
  reserved: number;
}

/**
 * GET /api/products/export.csv: the product list, read page after page through ProductsService.list
 * (so its filters are the list's own), each page's on-hand and reserved totals read in one statement.
 */
@Injectable()
export class ProductsExport {
  private readonly logger = new Logger(ProductsExport.name);

  constructor(
    private readonly products: ProductsService,
    private readonly dataSource: DataSource,
  ) {}

  stream(query: ExportProductsQuery, requestId: string): Promise<Readable> {
    const { search, lowStock } = query;
    const pages = everyPage((cursor) => this.products.list({ search, lowStock, cursor, limit: EXPORT_PAGE_SIZE }));
    return csvStream(PRODUCT_CSV_COLUMNS, this.rows(pages), (err) =>
      this.logger.error({ requestId, err }, 'Products CSV export failed after it started: response cut short'),
    );
  }

  private async *rows(pages: AsyncGenerator<ProductView[]>): AsyncGenerator<ProductCsvRow[]> {
    for await (const page of pages) {
      const totals = await this.totalsOf(page.map((p) => p.id));
      yield page.map((p) => {
        // onHand and reserved from one statement, so each row's available is their difference
        const { onHand, reserved } = totals.get(p.id) ?? { onHand: 0, reserved: 0 };
        const { id, sku, name, description, unit, reorderPoint } = p;
        return { id, sku, name, description, unit, reorderPoint, onHand, reserved, available: onHand - reserved };
      });
    }
  }

  /** On-hand and reserved summed over each product's warehouses (a read of stock_levels, which stock owns). */
  private async totalsOf(productIds: number[]): Promise<Map<number, Totals>> {
    if (!productIds.length) return new Map();
    const rows: { product_id: number | string; on_hand: number | string; reserved: number | string }[] =
      await this.dataSource.query(
        `SELECT product_id, SUM(on_hand) AS on_hand, SUM(reserved) AS reserved FROM stock_levels WHERE product_id IN (${productIds.map(() => '?').join(', ')}) GROUP BY product_id`,
        productIds,
      );
    return new Map(
      rows.map((r) => [Number(r.product_id), { onHand: Number(r.on_hand), reserved: Number(r.reserved) }]),
    );
  }
}
