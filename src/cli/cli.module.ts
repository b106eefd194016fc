import { Module } from '@nestjs/common';
import { AppConfigModule } from '../config/config.module';
import { DatabaseModule } from '../database/database.module';
import { ENTITIES } from '../entities';
import { AuthModule } from '../modules/auth/auth.module';
import { MetricsModule } from '../common/metrics/metrics.module';
import { ProductImportModule } from '../modules/product-import/product-import.module';
import { StockModule } from '../modules/stock/stock.module';
import { UsersModule } from '../modules/users/users.module';
import { MigrateCommand, ReconcileCommand, TokenIssueCommand, UserCreateCommand } from './commands';
import { ImportProductsCommand } from './import-products.command';

@Module({
  imports: [
    AppConfigModule,
    MetricsModule,
    DatabaseModule.forRoot(ENTITIES),
    UsersModule,
    AuthModule,
    StockModule,
    ProductImportModule,
  ],
  providers: [UserCreateCommand, TokenIssueCommand, MigrateCommand, ReconcileCommand, ImportProductsCommand],
})
export class CliModule {}
