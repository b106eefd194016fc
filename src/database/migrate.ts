import { DataSource } from 'typeorm';
import { dialectOf } from './dialect';

/**
 * Applies pending migrations. On MySQL several instances may start at once: a named lock lets one
 * migrate while the others wait and then find nothing left to do. SQLite is one process's file.
 */
export async function runMigrations(dataSource: DataSource): Promise<number> {
  return dialectOf(dataSource).withMigrationLock(
    dataSource,
    async () => (await dataSource.runMigrations({ transaction: 'each' })).length,
  );
}
