import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSourceOptions } from 'typeorm';
import { DatabaseConfig } from '../config/database.config';
import { AuditLog } from '../modules/audit/entities/audit-log.entity';
import { Product } from '../modules/products/entities/product.entity';
import { StockLevel } from '../modules/stock/entities/stock-level.entity';
import { User } from '../modules/users/entities/user.entity';
import { Warehouse } from '../modules/warehouses/entities/warehouse.entity';
import { MYSQL_MIGRATIONS, SQLITE_MIGRATIONS } from './migrations';

export const ENTITIES = [User, Warehouse, Product, StockLevel, AuditLog];
const SQLITE_BUSY_TIMEOUT_MS = 5000;

/** One place that turns config into TypeORM options, for the app, the CLI and the tests. */
export function dataSourceOptions(db: DatabaseConfig): DataSourceOptions {
  const common = {
    entities: ENTITIES,
    synchronize: false,
    migrationsRun: false,
    migrationsTableName: 'migrations',
    logging: false,
  } as const;
  if (db.type === 'mysql') {
    return {
      ...common,
      type: 'mysql',
      host: db.host,
      port: db.port,
      username: db.user,
      password: db.password,
      database: db.name,
      timezone: 'Z',
      charset: 'utf8mb4_unicode_ci',
      poolSize: db.poolSize,
      migrations: MYSQL_MIGRATIONS,
    };
  }
  if (db.path !== ':memory:') mkdirSync(dirname(db.path), { recursive: true });
  return {
    ...common,
    type: 'better-sqlite3',
    database: db.path,
    enableWAL: true,
    timeout: SQLITE_BUSY_TIMEOUT_MS,
    migrations: SQLITE_MIGRATIONS,
  };
}
