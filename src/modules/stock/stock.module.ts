import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { EventsModule } from '../events/events.module';
import { ProductsModule } from '../products/products.module';
import { ReadCacheModule } from '../read-cache/read-cache.module';
import { WarehousesModule } from '../warehouses/warehouses.module';
import { IdempotencyRepository } from './idempotency.repository';
import { IdempotencyService } from './idempotency.service';
import { StockLevelsModule } from './levels/stock-levels.module';
import { MovementsExport } from './movements-export';
import { ReconcileSchedule } from './reconcile-schedule.service';
import { StockLedgerService } from './stock-ledger.service';
import { ReservationExpiry } from './reservations/reservation-expiry.service';
import { ReservationsController } from './reservations/reservations.controller';
import { ReservationsRepository } from './reservations/reservations.repository';
import { ReservationsService } from './reservations/reservations.service';
import { StockController } from './stock.controller';
import { StockRepository } from './stock.repository';
import { StockService } from './stock.service';

@Module({
  imports: [AuditModule, EventsModule, ProductsModule, WarehousesModule, StockLevelsModule, ReadCacheModule],
  controllers: [StockController, ReservationsController],
  providers: [
    StockService,
    StockLedgerService,
    IdempotencyService,
    StockRepository,
    IdempotencyRepository,
    ReservationsService,
    ReservationsRepository,
    ReservationExpiry,
    ReconcileSchedule,
    MovementsExport,
  ],
  exports: [StockService],
})
export class StockModule {}
