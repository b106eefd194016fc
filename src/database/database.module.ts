import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TypedConfigService } from '../config';
import { readDatabaseConfig } from '../config/database.config';
import { Entities, InventoryDataSource, resolveDataSourceOptions } from './data-source.options';
import { dialectOf } from './dialect';
import { runMigrations } from './migrate';
import { applyPoolLimits } from './pool-limits';
import { PoolMetrics } from './pool-metrics';
import { SequencesRepository } from './sequences.repository';
import { TransactionService } from './transaction.service';

/** The DataSource (global) and TransactionService, over the entities the root hands in (src/entities.ts). */
@Module({})
export class DatabaseModule {
  static forRoot(entities: Entities): DynamicModule {
    return {
      module: DatabaseModule,
      global: true,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [TypedConfigService],
          useFactory: (config: TypedConfigService) =>
            resolveDataSourceOptions(config.getOrThrow('database', { infer: true }), entities),
          // the schema is brought current before anything else touches the database
          dataSourceFactory: async (options) => {
            const dataSource = await new InventoryDataSource(options!).initialize();
            await dialectOf(dataSource).prepare(dataSource);
            await runMigrations(dataSource);
            // after the migrations, which hold a connection for as long as they take
            const db = readDatabaseConfig();
            if (db.type === 'mysql') applyPoolLimits(dataSource, db.pool);
            return dataSource;
          },
        }),
      ],
      providers: [TransactionService, PoolMetrics, SequencesRepository],
      exports: [TransactionService, SequencesRepository],
    };
  }
}
