import { Type as ClassType } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
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

const pageClasses = new Map<ClassType, ClassType>();

/** The OpenAPI model of a `Page<T>` of one item class, named after it (`ProductView` → `ProductPage`). */
export function PageOf<T>(item: ClassType<T>): ClassType<Page<T>> {
  let page = pageClasses.get(item);
  if (!page) {
    class PageModel {
      @ApiProperty({ type: [item] }) items!: T[];
      @ApiProperty({
        type: String,
        nullable: true,
        description: 'Pass as ?cursor= for the next page; null on the last',
      })
      nextCursor!: string | null;
    }
    Object.defineProperty(PageModel, 'name', { value: `${item.name.replace(/View$/, '')}Page` });
    pageClasses.set(item, (page = PageModel));
  }
  return page as ClassType<Page<T>>;
}

export type SortKey = Record<string, number>;

/** Cursors are opaque to clients: base64url of the last row's sort key. */
export function encodeCursor(key: SortKey | number): string {
  return Buffer.from(JSON.stringify(typeof key === 'number' ? { id: key } : key)).toString('base64url');
}

/** The sort key a cursor carries (`fields` of non-negative integers), or null for the first page. */
export function decodeCursorKey(cursor: string | undefined, fields: readonly string[]): SortKey | null {
  if (cursor === undefined) return null;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (fields.every((f) => Number.isSafeInteger(parsed[f]) && (parsed[f] as number) >= 0)) {
      return Object.fromEntries(fields.map((f) => [f, parsed[f] as number]));
    }
  } catch {
    // falls through to the validation error
  }
  throw ApiError.validation({ cursor: ['cursor is not valid'] });
}

/** The last id a cursor carries, for lists in id order. */
export function decodeCursor(cursor: string | undefined): number | null {
  return decodeCursorKey(cursor, ['id'])?.id ?? null;
}

/** Rows were fetched with limit + 1: the extra row only says another page exists. */
export function toPage<Row, Out>(
  rows: Row[],
  limit: number,
  map: (row: Row) => Out,
  keyOf: (row: Row) => SortKey | number = (row) => (row as { id: number }).id,
): Page<Out> {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  return {
    items: pageRows.map(map),
    nextCursor: hasMore ? encodeCursor(keyOf(pageRows[pageRows.length - 1])) : null,
  };
}

export function pageSize(query: PageQuery): number {
  return query.limit ?? DEFAULT_PAGE_SIZE;
}
