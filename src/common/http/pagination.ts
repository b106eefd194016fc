import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { ApiError } from '../errors/api-error';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

export class PageQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(MAX_PAGE_SIZE) limit?: number;
  @IsOptional() @IsString() @MaxLength(512) cursor?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Cursors are opaque to clients: base64url of the last row's sort key. */
export function encodeCursor(lastId: number): string {
  return Buffer.from(JSON.stringify({ id: lastId })).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): number | null {
  if (cursor === undefined) return null;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { id?: unknown };
    if (Number.isSafeInteger(parsed.id) && (parsed.id as number) >= 0) return parsed.id as number;
  } catch {
    // falls through to the validation error
  }
  throw ApiError.validation({ cursor: ['cursor is not valid'] });
}

/** Rows were fetched with limit + 1: the extra row only says another page exists. */
export function toPage<Row extends { id: number }, Out>(rows: Row[], limit: number, map: (row: Row) => Out): Page<Out> {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  return {
    items: pageRows.map(map),
    nextCursor: hasMore ? encodeCursor(pageRows[pageRows.length - 1].id) : null,
  };
}

export function pageSize(query: PageQuery): number {
  return query.limit ?? DEFAULT_PAGE_SIZE;
}
