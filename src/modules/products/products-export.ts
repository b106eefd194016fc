import { Injectable, Logger } from '@nestjs/common';
import { Readable } from 'node:stream';
import { csvStream, everyPage, EXPORT_PAGE_SIZE } from '../../common/http/csv';
import { ExportProductsQuery, PRODUCT_CSV_COLUMNS, ProductCsvRow } from './dto/export-products.dto';
import { ProductView } from './dto/product.dto';
import { StockLevelsRepository } from '../stock/levels/stock-levels.repository';
import { ProductsService } from './products.service';

/**
 * GET /api/products/export.csv: the product list, read page after page through ProductsService.list
 * (so its filters are the list's own), each page's on-hand and reserved totals read in one statement
 * by stock's StockLevelsRepository.
 */
@Injectable()
export class ProductsExport {
  private readonly logger = new Logger(ProductsExport.name);

  constructor(
    private readonly products: ProductsService,
    private readonly levels: StockLevelsRepository,
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
      const totals = await this.levels.totalsOf(page.map((p) => p.id));
      yield page.map((p) => {
        // onHand and reserved from one statement, so each row's available is their difference
        const { onHand, reserved } = totals.get(p.id) ?? { onHand: 0, reserved: 0 };
        const { id, sku, name, description, unit, reorderPoint } = p;
        return { id, sku, name, description, unit, reorderPoint, onHand, reserved, available: onHand - reserved };
      });
    }
  }
}
