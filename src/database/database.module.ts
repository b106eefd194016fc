import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TypedConfigService } from '../config';
import { InventoryDataSource, resolveDataSourceOptions } from './data-source.options';
import { runMigrations } from './migrate';
import { assertConsecutiveIds, useShortLockWaits } from './row-lock';
import { PoolMetrics } from './pool-metrics';
import { TransactionService } from './transaction.service';

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [TypedConfigService],
      useFactory: (config: TypedConfigService) =>
        resolveDataSourceOptions(config.getOrThrow('database', { infer: true })),
      // the schema is brought current before anything else touches the database
      dataSourceFactory: async (options) => {
        const dataSource = await new InventoryDataSource(options!).initialize();
        await assertConsecutiveIds(dataSource);
        await useShortLockWaits(dataSource);
        await runMigrations(dataSource);
        return dataSource;
      },
    }),
  ],
  providers: [TransactionService, PoolMetrics],
  exports: [TransactionService],
})
export class DatabaseModule {}
