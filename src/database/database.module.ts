import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Config } from '../config';
import { InventoryDataSource, resolveDataSourceOptions } from './data-source.options';
import { runMigrations } from './migrate';
import { assertConsecutiveIds, useShortLockWaits } from './row-lock';
import { applyPoolLimits } from './pool-limits';
import { PoolMetrics } from './pool-metrics';
import { readDatabaseConfig } from '../config/database.config';
import { TransactionService } from './transaction.service';

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<Config, true>) =>
        resolveDataSourceOptions(config.getOrThrow('database', { infer: true })),
      // the schema is brought current before anything else touches the database
      dataSourceFactory: async (options) => {
        const dataSource = await new InventoryDataSource(options!).initialize();
        await assertConsecutiveIds(dataSource);
        await useShortLockWaits(dataSource);
        await runMigrations(dataSource);
        // after the migrations, which hold a connection for as long as they take
        const db = readDatabaseConfig();
        if (db.type === 'mysql') applyPoolLimits(dataSource, db.pool);
        return dataSource;
      },
    }),
  ],
  providers: [TransactionService, PoolMetrics],
  exports: [TransactionService],
})
export class DatabaseModule {}
