import { applyDecorators, StreamableFile } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces } from '@nestjs/swagger';
import { Readable } from 'node:stream';
import { Options, stringify } from 'csv-stringify/sync';
import { Page } from './pagination';

export const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8';

/** Rows per keyset page an export reads: memory stays at about one page, whatever the row count. */
export const EXPORT_PAGE_SIZE = 1000;

/** A cell: text, a number (written as is), or null (an empty cell). */
export type CsvCell = string | number | null;

/** What a spreadsheet would take for the start of a formula (OWASP "CSV injection"). */
const FORMULA_START = /^[=+\-@\t\r]/;

/** Text a spreadsheet would evaluate gets a leading apostrophe; numbers never pass through here. */
export function guardFormula(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

export const attachment = (filename: string) => `attachment; filename="${filename}"`;

/** A CSV export's answer: the stream as an attachment named `file`. */
export const csvFile = (stream: Readable, file: string) =>
  new StreamableFile(stream, { type: CSV_CONTENT_TYPE, disposition: attachment(file) });

/**
 * The OpenAPI of a CSV export route: `rows` says which rows, in which order, and what the columns hold;
 * the format, the formula guard and the cut transfer are every export's.
 */
export const ApiCsvExport = (file: string, columns: readonly string[], summary: string, rows: string) =>
  applyDecorators(
    ApiOperation({
      summary,
      description:
        `${rows} Streamed as RFC 4180 CSV with a header row and CRLF line ends: ${columns.join(',')}. ` +
        "An empty cell is null. Text starting with =, +, -, @, tab or carriage return gets a leading ' (no " +
        'formulas in spreadsheets); numbers are written as they are. A failure after the first bytes cuts the ' +
        'transfer short instead of answering an error body.',
    }),
    ApiProduces('text/csv'),
    ApiOkResponse({
      description: `The CSV file, as an attachment named ${file}`,
      content: { 'text/csv': { schema: { type: 'string', example: `${columns.join(',')}\r\n` } } },
      headers: { 'Content-Disposition': { description: attachment(file), schema: { type: 'string' } } },
    }),
  );

/** Every page of a keyset-paged list read, following its cursor until there is no next page. */
export async function* everyPage<T>(read: (cursor: string | undefined) => Promise<Page<T>>): AsyncGenerator<T[]> {
  let cursor: string | undefined;
  do {
    const page = await read(cursor);
    yield page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}

/**
 * `pages` as RFC 4180 CSV (header row, CRLF, quoted where needed, formula-guarded text), read one page at
 * a time as the response drains: the stream asks for the next page only once the last one has gone out.
 * The first page is read before this resolves, so a bad filter or a database that is down still answers
 * the contract's JSON error; a failure after that goes to `onFailure` and destroys the stream: the client
 * sees a truncated transfer, never half a JSON body.
 */
export async function csvStream<Row extends Record<string, CsvCell>>(
  columns: readonly (keyof Row & string)[],
  pages: AsyncGenerator<Row[]>,
  onFailure: (error: unknown) => void,
): Promise<Readable> {
  const options: Options = {
    columns: [...columns],
    record_delimiter: '\r\n',
    // csv-stringify quotes only the record delimiter itself; a lone LF or CR in a cell must be quoted too
    quoted_match: /[\r\n]/,
    cast: { string: guardFormula },
  };
  const first = await pages.next();
  // a page is stringified whole: one async step per page rather than per row keeps the garbage down
  async function* chunks(): AsyncGenerator<string> {
    try {
      yield stringify(first.done ? [] : first.value, { ...options, header: true });
      for (let page = await pages.next(); !page.done; page = await pages.next()) yield stringify(page.value, options);
    } catch (error) {
      onFailure(error);
      throw error;
    } finally {
      await pages.return(undefined); // the client went away mid-export: stop reading
    }
  }
  // bytes, not objects: the 16 KiB high-water mark keeps at most the page being sent in memory
  return Readable.from(chunks(), { objectMode: false });
}
