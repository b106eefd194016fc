import { Module } from '@nestjs/common';
import { ProductsModule } from '../products/products.module';
import { StockLevelsModule } from '../stock/levels/stock-levels.module';
import { StockModule } from '../stock/stock.module';
import { WarehousesModule } from '../warehouses/warehouses.module';
import { ProductImportService } from './product-import.service';

/**
 * CSV import of products and their opening stock (the CLI's import:products). Its own feature: it
 * composes products, warehouses and stock, which depend on each other only the other way round.
 */
@Module({
  imports: [ProductsModule, WarehousesModule, StockModule, StockLevelsModule],
  providers: [ProductImportService],
  exports: [ProductImportService],
})
export class ProductImportModule {}
