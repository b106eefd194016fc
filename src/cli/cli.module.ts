import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { configLoaders } from '../config';
import { DatabaseModule } from '../database/database.module';
import { AuthModule } from '../modules/auth/auth.module';
import { MetricsModule } from '../modules/metrics/metrics.module';
import { StockModule } from '../modules/stock/stock.module';
import { UsersModule } from '../modules/users/users.module';
import { MigrateCommand, ReconcileCommand, TokenIssueCommand, UserCreateCommand } from './commands';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: configLoaders }),
    MetricsModule,
    DatabaseModule,
    UsersModule,
    AuthModule,
    StockModule,
  ],
  providers: [UserCreateCommand, TokenIssueCommand, MigrateCommand, ReconcileCommand],
})
export class CliModule {}
