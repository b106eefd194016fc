import { Module } from '@nestjs/common';
import { AppConfigModule } from '../config/config.module';
import { DatabaseModule } from '../database/database.module';
import { ENTITIES } from '../entities';
import { AuthModule } from '../modules/auth/auth.module';
import { MetricsModule } from '../common/metrics/metrics.module';
import { StockModule } from '../modules/stock/stock.module';
import { UsersModule } from '../modules/users/users.module';
import { MigrateCommand, ReconcileCommand, TokenIssueCommand, UserCreateCommand } from './commands';

@Module({
  imports: [AppConfigModule, MetricsModule, DatabaseModule.forRoot(ENTITIES), UsersModule, AuthModule, StockModule],
  providers: [UserCreateCommand, TokenIssueCommand, MigrateCommand, ReconcileCommand],
})
export class CliModule {}
