import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { EventsModule } from '../events/events.module';
import { ReadCacheModule } from '../read-cache/read-cache.module';
import { StockLevelsModule } from '../stock/levels/stock-levels.module';
import { ProductsExport } from './products-export';
import { ProductsController } from './products.controller';
import { ProductsRepository } from './products.repository';
import { ProductsService } from './products.service';

@Module({
  imports: [AuditModule, EventsModule, StockLevelsModule, ReadCacheModule],
  controllers: [ProductsController],
  providers: [ProductsService, ProductsRepository, ProductsExport],
  exports: [ProductsService, ProductsRepository],
})
export class ProductsModule {}
