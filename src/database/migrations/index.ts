// Migrations are listed, not globbed, so they load the same under tsc, ts-node and Jest's ESM runtime.
// After `npm run migration:generate`, add the new class to its driver's list.
import { Initial1795615480000 as MysqlInitial } from './mysql/1795615480000-Initial';
import { StockLedger1795616700000 as MysqlStockLedger } from './mysql/1795616700000-StockLedger';
import { LongRecords1795625000000 as MysqlLongRecords } from './mysql/1795625000000-LongRecords';
import { Reservations1796188076065 as MysqlReservations } from './mysql/1796188076065-Reservations';
import { Events1796192131167 as MysqlEvents } from './mysql/1796192131167-Events';
import { Search1796300000000 as MysqlSearch } from './mysql/1796300000000-Search';
import { LookupIndexes1796300000001 as MysqlLookupIndexes } from './mysql/1796300000001-LookupIndexes';
import { Initial1795615480000 as SqliteInitial } from './sqlite/1795615480000-Initial';
import { StockLedger1795616700000 as SqliteStockLedger } from './sqlite/1795616700000-StockLedger';
import { Reservations1796188065088 as SqliteReservations } from './sqlite/1796188065088-Reservations';
import { Events1796192131167 as SqliteEvents } from './sqlite/1796192131167-Events';
import { Search1796300000000 as SqliteSearch } from './sqlite/1796300000000-Search';
import { LookupIndexes1796300000001 as SqliteLookupIndexes } from './sqlite/1796300000001-LookupIndexes';

export const MYSQL_MIGRATIONS = [
  MysqlInitial,
  MysqlStockLedger,
  MysqlLongRecords,
  MysqlReservations,
  MysqlEvents,
  MysqlSearch,
  MysqlLookupIndexes,
];
export const SQLITE_MIGRATIONS = [
  SqliteInitial,
  SqliteStockLedger,
  SqliteReservations,
  SqliteEvents,
  SqliteSearch,
  SqliteLookupIndexes,
];
