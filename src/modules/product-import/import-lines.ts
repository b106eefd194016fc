import { plainToInstance } from 'class-transformer';
import { validate, ValidationError } from 'class-validator';
import { parse } from 'csv-parse';
import { Readable } from 'node:stream';
import { CreateProductDto } from '../products/dto/product.dto';
import { AdjustDto } from '../stock/dto/stock.dto';
import { VALIDATOR_OPTIONS } from '../../common/http/validation.pipe';

/** The columns an import file may have, as the contract names the fields; a header names them in any case and order. */
export const IMPORT_COLUMNS = ['sku', 'name', 'description', 'unit', 'reorderPoint', 'warehouse', 'onHand'] as const;
export type ImportColumn = (typeof IMPORT_COLUMNS)[number];

/** Field name → its messages, as the 400 VALIDATION_FAILED details list them. */
export type FieldErrors = Record<string, string[]>;

/** A problem with the file as a whole (its header, its encoding): nothing can be imported. */
export class ImportFileError extends Error {}

/** One record of the file: its text cells by column, or why it is no record. */
export interface CsvLine {
  /** Where the record starts, as an editor numbers lines (the header is line 1). */
  line: number;
  /** Bytes of the file read up to the end of this record. */
  bytes: number;
  cells?: Partial<Record<ImportColumn, string>>;
  problem?: string;
}

/** A line that failed validation, with each field's messages. */
export interface RefusedLine {
  line: number;
  errors: FieldErrors;
}

/** A line that passed validation: what it says about its product and, optionally, its stock. */
export interface ImportLine {
  line: number;
  sku: string;
  /** Only the fields the line gives (an empty cell leaves a field as it is; an empty description clears it). */
  product: { name?: string; description?: string | null; unit?: string; reorderPoint?: number };
  stock?: { warehouse: string; onHand: number };
}

/** The notes of an import's COUNT adjustments fit the contract's 500 characters. */
const MAX_NOTE = 500;

/** Maps a header to the canonical column names; refuses unknown, repeated or missing columns. */
export function importColumns(header: string[]): ImportColumn[] {
  const byLowerCase = new Map(IMPORT_COLUMNS.map((c) => [c.toLowerCase(), c]));
  const columns = header.map((name) => byLowerCase.get(name.trim().toLowerCase()));
  const unknown = header.filter((_, i) => columns[i] === undefined);
  if (unknown.length) {
    throw new ImportFileError(
      `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((c) => JSON.stringify(c)).join(', ')} in the header; ` +
        `the columns are ${IMPORT_COLUMNS.join(', ')} (sku required)`,
    );
  }
  const repeated = columns.filter((c, i) => columns.indexOf(c) !== i);
  if (repeated.length) throw new ImportFileError(`column ${repeated[0]} appears more than once in the header`);
  if (!columns.includes('sku')) throw new ImportFileError('the header has no sku column');
  if (columns.includes('warehouse') !== columns.includes('onHand')) {
    throw new ImportFileError('the header has one of warehouse and onHand: opening stock needs both columns');
  }
  return columns as ImportColumn[];
}

/**
 * The records of a CSV file in file order, each with the line it starts on, read as a stream (csv-parse):
 * memory holds a few records, whatever the file's size. A record that is not one (a wrong number of
 * fields, an unclosed quote) comes as a `problem` and parsing goes on; a bad header throws ImportFileError.
 */
export async function* csvLines(input: Readable): AsyncGenerator<CsvLine> {
  let header = false;
  const parser = input.pipe(
    parse({
      columns: (names: string[]) => ((header = true), importColumns(names)),
      bom: true,
      trim: true,
      relax_column_count: false,
      skip_empty_lines: true,
      skip_records_with_error: true,
      info: true,
    }),
  );
  input.on('error', (error) => parser.destroy(error));
  interface Ended {
    lines: number;
    emptyLines: number;
    bytes: number;
  }
  // skipped records are reported as events while parsing runs ahead of the consumer: they queue,
  // and each is yielded before the first record that ends after it
  const skipped: (Ended & { values: unknown[]; problem: string })[] = [];
  parser.on('skip', (error: CsvSkip) => {
    const values = Array.isArray(error.record) ? error.record : [];
    skipped.push({
      lines: error.lines,
      emptyLines: error.empty_lines,
      bytes: error.bytes,
      values,
      problem: problemOf(error),
    });
  });
  let previous: Ended = { lines: 1, emptyLines: 0, bytes: 0 };
  // csv-parse counts a CRLF inside a quoted field as two lines; an editor, as one
  let overcount = 0;
  /** Where a record ended by csv-parse's count, in an editor's lines, and where it started. */
  const place = (ended: Ended, values: unknown[]) => {
    overcount += values.reduce<number>((n, v) => n + (typeof v === 'string' ? v.split('\r\n').length - 1 : 0), 0);
    const end = { ...ended, lines: ended.lines - overcount };
    // it starts on the line after the previous one ended, past the empty lines skipped between them
    const line = previous.lines + 1 + (ended.emptyLines - previous.emptyLines);
    previous = end;
    return line;
  };
  const flush = function* (before: number): Generator<CsvLine> {
    while (skipped.length && skipped[0].lines < before) {
      const { values, problem, ...ended } = skipped.shift()!;
      yield { line: place(ended, values), bytes: ended.bytes, problem };
    }
  };
  for await (const { record, info } of parser as AsyncIterable<{
    record: Record<ImportColumn, string>;
    info: { lines: number; empty_lines: number; bytes: number };
  }>) {
    yield* flush(info.lines);
    const ended = { lines: info.lines, emptyLines: info.empty_lines, bytes: info.bytes };
    yield { line: place(ended, Object.values(record)), bytes: info.bytes, cells: record };
  }
  if (!header) throw new ImportFileError('the file is empty: a header row is required');
  yield* flush(Infinity);
}

/** What csv-parse reports of a record it skipped. */
type CsvSkip = Error & { code?: string; lines: number; empty_lines: number; bytes: number; record?: unknown };

function problemOf(error: CsvSkip): string {
  switch (error.code) {
    case 'CSV_RECORD_INCONSISTENT_COLUMNS':
    case 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH': {
      const [, header, found] = /length is (\d+), got (\d+)/.exec(error.message) ?? [];
      return header ? `wrong number of fields: ${header} in the header, ${found} here` : 'wrong number of fields';
    }
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted field is never closed';
    default:
      return error.message.replace(/ (at|on) line \d+$/, '');
  }
}

/** A number where the cell holds one (as JSON would give it), else the text: the DTO's rules then refuse it. */
function numberOrText(text: string): number | string {
  return /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text) ? Number(text) : text;
}

/** `field must …` → `must …`: the field is named once, before the colon. */
function messagesOf(errors: ValidationError[], rename: Record<string, string> = {}): FieldErrors {
  const fields: FieldErrors = {};
  for (const error of errors) {
    const field = rename[error.property] ?? error.property;
    fields[field] = Object.values(error.constraints ?? {}).map((message) =>
      message.startsWith(`${error.property} `) ? message.slice(error.property.length + 1) : message,
    );
  }
  return fields;
}

/**
 * Validates a record's cells as the HTTP API validates a body: the product's fields by CreateProductDto
 * (whose rules UpdateProductDto shares, the name aside), the stock by AdjustDto's rules for
 * `warehouse` and `countedQuantity` (reported as onHand). An empty cell is a field left out, but an empty
 * description is null. A missing name is no error here: only creating a product needs one.
 */
export async function validateLine(
  line: number,
  cells: Partial<Record<ImportColumn, string>>,
  note: string,
): Promise<ImportLine | RefusedLine> {
  const given = (column: ImportColumn) => (cells[column] ? cells[column] : undefined);
  const product = {
    sku: cells.sku ?? '',
    name: given('name'),
    description: 'description' in cells ? (given('description') ?? null) : undefined,
    unit: given('unit'),
    reorderPoint: given('reorderPoint') === undefined ? undefined : numberOrText(cells.reorderPoint!),
  };
  const errors = messagesOf(
    await validate(
      plainToInstance(CreateProductDto, { ...product, name: product.name ?? 'a name' }),
      VALIDATOR_OPTIONS,
    ),
  );
  const warehouse = given('warehouse');
  const onHand = given('onHand');
  if (warehouse !== undefined && onHand === undefined) errors.onHand = ['required with a warehouse'];
  if (onHand !== undefined && warehouse === undefined) errors.warehouse = ['required with onHand'];
  let stock: ImportLine['stock'];
  if (warehouse !== undefined && onHand !== undefined) {
    const count = { productId: 1, warehouse, countedQuantity: numberOrText(onHand), reason: 'COUNT', note };
    const stockErrors = await validate(plainToInstance(AdjustDto, count), VALIDATOR_OPTIONS);
    Object.assign(errors, messagesOf(stockErrors, { countedQuantity: 'onHand' }));
    if (!stockErrors.length) stock = { warehouse, onHand: count.countedQuantity as number };
  }
  if (Object.keys(errors).length) return { line, errors };
  const { sku, ...fields } = product;
  const stated = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
  return { line, sku, product: stated, stock };
}

/** The note on an import's COUNT adjustments: `import <file name>`, cut to the contract's 500 characters. */
export function importNote(fileName: string): string {
  return `import ${fileName}`.slice(0, MAX_NOTE);
}
