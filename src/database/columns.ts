import { Column, ColumnOptions, ValueTransformer } from 'typeorm';

/** BIGINT comes back from mysql2 as a string; quantities are kept within 2^53-1, so a number is exact. */
export const bigintToNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};

/** Millisecond timestamps on both drivers. */
export const TIMESTAMP = { type: 'datetime', precision: 3 } as const;

/** JSON in a text column. */
export const jsonText: ValueTransformer = {
  to: (value: object | null | undefined) => (value === null || value === undefined ? value : JSON.stringify(value)),
  from: (value: string | null) => (value === null ? null : (JSON.parse(value) as object)),
};

const longTextColumns = new Map<unknown, Set<string>>();

/** A text column whose value may pass MySQL's 64 KB TEXT (a 100-line batch with long notes): InventoryDataSource widens it. */
export function LongTextColumn(options: Omit<ColumnOptions, 'type'> = {}): PropertyDecorator {
  return (target, property) => {
    const columns = longTextColumns.get(target.constructor) ?? new Set<string>();
    longTextColumns.set(target.constructor, columns.add(String(property)));
    Column({ ...options, type: 'text' })(target, property);
  };
}

export const isLongText = (entity: unknown, property: string) => longTextColumns.get(entity)?.has(property) ?? false;

const bigIdColumns = new Map<unknown, Set<string>>();

/**
 * An auto-increment 64-bit id. BIGINT on MySQL/MariaDB; on SQLite INTEGER, which is 64-bit already and
 * the only type AUTOINCREMENT accepts (InventoryDataSource narrows the metadata there).
 */
export function BigIdColumn(): PropertyDecorator {
  return (target, property) => {
    const columns = bigIdColumns.get(target.constructor) ?? new Set<string>();
    bigIdColumns.set(target.constructor, columns.add(String(property)));
    Column({ type: 'bigint', primary: true, generated: 'increment', transformer: bigintToNumber })(target, property);
  };
}

export const isBigId = (entity: unknown, property: string) => bigIdColumns.get(entity)?.has(property) ?? false;
