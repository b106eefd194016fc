// Migrations are listed, not globbed, so they load the same under tsc, ts-node and Jest's ESM runtime.
// After `npm run migration:generate`, add the new class to its driver's list.
import { Initial1795615480000 as MysqlInitial } from './mysql/1795615480000-Initial';
import { Initial1795615480000 as SqliteInitial } from './sqlite/1795615480000-Initial';

export const MYSQL_MIGRATIONS = [MysqlInitial];
export const SQLITE_MIGRATIONS = [SqliteInitial];
