import { DataSource, MigrationExecutor } from 'typeorm';
import { dialectOf } from './dialect';

/**
 * Applies pending migrations. On MySQL several instances may start at once: a named lock lets one
 * migrate while the others wait and then find nothing left to do. SQLite is one process's file.
 */
export async function runMigrations(dataSource: DataSource): Promise<number> {
  return dialectOf(dataSource).withMigrationLock(dataSource, async (runner) => {
    // on the connection that holds the lock: a pool of one connection must not wait for a second
    const executor = new MigrationExecutor(dataSource, runner);
    executor.transaction = 'each';
    return (await executor.executePendingMigrations()).length;
  });
}
