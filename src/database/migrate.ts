import { DataSource, MigrationExecutor } from 'typeorm';

const MIGRATION_LOCK = 'inventory_migrations';
const MIGRATION_LOCK_WAIT_SECONDS = 120;

/**
 * Applies pending migrations. On MySQL several instances may start at once: a named lock lets one
 * migrate while the others wait and then find nothing left to do. SQLite is one process's file.
 */
export async function runMigrations(dataSource: DataSource): Promise<number> {
  if (dataSource.options.type === 'better-sqlite3') {
    return (await dataSource.runMigrations({ transaction: 'each' })).length;
  }
  const runner = dataSource.createQueryRunner();
  try {
    const [row] = (await runner.query('SELECT GET_LOCK(?, ?) AS got', [
      MIGRATION_LOCK,
      MIGRATION_LOCK_WAIT_SECONDS,
    ])) as {
      got: number | string | null;
    }[];
    if (Number(row?.got) !== 1) throw new Error('Timed out waiting for another instance to finish migrating');
    try {
      // on the connection that holds the lock: a pool of one connection must not wait for a second
      const executor = new MigrationExecutor(dataSource, runner);
      executor.transaction = 'each';
      return (await executor.executePendingMigrations()).length;
    } finally {
      await runner.query('SELECT RELEASE_LOCK(?)', [MIGRATION_LOCK]);
    }
  } finally {
    await runner.release();
  }
}
