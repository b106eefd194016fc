/** Per line: 1 ≤ quantity ≤ 1 000 000 000 (also the bound on reorderPoint and |delta|). */
export const MAX_QUANTITY = 1_000_000_000;
/** A level never goes above 2^53-1: every on-hand stays an exact JSON number. */
export const MAX_LEVEL = Number.MAX_SAFE_INTEGER;
