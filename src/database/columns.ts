import { ValueTransformer } from 'typeorm';

/** BIGINT comes back from mysql2 as a string; quantities are kept within 2^53-1, so a number is exact. */
export const bigintToNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};

/** Millisecond timestamps on both drivers. */
export const TIMESTAMP = { type: 'datetime', precision: 3 } as const;
