import pino from 'pino';

/** What a database error carries that can hold row values (an argon2 hash in an INSERT): never logged. */
const UNLOGGED_KEYS = new Set(['parameters', 'params', 'values', 'sql', 'query']);
const MAX_DEPTH = 4;

function withoutStatementData(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item) => withoutStatementData(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !UNLOGGED_KEYS.has(key))
      .map(([key, item]) => [key, withoutStatementData(item, depth + 1)]),
  );
}

/** pino's error serializer, minus the SQL text and bound parameters TypeORM and the drivers attach. */
export function serializeError(error: unknown): unknown {
  const serialized = error instanceof Error ? pino.stdSerializers.err(error) : error;
  return withoutStatementData(serialized, 0);
}
