import { ValueTransformer } from 'typeorm';

/** BIGINT comes back from mysql2 as a string; quantities are kept within 2^53-1, so a number is exact. */
export const bigintToNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};

/** Millisecond timestamps on both drivers. */
export const TIMESTAMP = { type: 'datetime', precision: 3 } as const;

/** JSON in a text column (the column type may differ per driver, see InventoryDataSource). */
export const jsonText: ValueTransformer = {
  to: (value: object | null | undefined) => (value === null || value === undefined ? value : JSON.stringify(value)),
  from: (value: string | null) => (value === null ? null : (JSON.parse(value) as object)),
};
