import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { Readable } from 'node:stream';
import { csvLines, CsvLine, ImportFileError, importColumns, validateLine } from './import-lines';

const HEADER = 'sku,name,description';

async function linesOf(text: string, chunkSize = 7): Promise<CsvLine[]> {
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += chunkSize) chunks.push(text.slice(i, i + chunkSize));
  const found: CsvLine[] = [];
  for await (const line of csvLines(Readable.from(chunks))) found.push(line);
  return found;
}

describe('importColumns', () => {
  it('takes the contract names in any case and order', () => {
    expect(importColumns(['SKU', 'onhand', 'Warehouse', 'REORDERPOINT'])).toEqual([
      'sku',
      'onHand',
      'warehouse',
      'reorderPoint',
    ]);
  });

  it.each([
    [['sku', 'price'], /unknown column "price"/],
    [['sku', 'name', 'Name'], /name appears more than once/],
    [['name'], /no sku column/],
    [['sku', 'onHand'], /needs both columns/],
    [['sku', 'warehouse'], /needs both columns/],
  ])('refuses the header %j', (header, message) => {
    expect(() => importColumns(header)).toThrow(ImportFileError);
    expect(() => importColumns(header)).toThrow(message);
  });
});

describe('csvLines', () => {
  it('numbers each record by the line it starts on, as an editor does, in file order', async () => {
    const cell = fc.string({ unit: fc.constantFrom('a', 'B', ' ', ',', '"', '\n', '\r\n', 'é'), maxLength: 8 });
    const record = fc.tuple(cell, cell, cell);
    const entry = fc.record({ record, blankBefore: fc.nat(2), bad: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { maxLength: 12 }), fc.constantFrom('\n', '\r\n'), async (entries, eol) => {
        let text = `${HEADER}${eol}`;
        let line = 2;
        const expected: { line: number; bad: boolean }[] = [];
        for (const { record, blankBefore, bad } of entries) {
          text += eol.repeat(blankBefore);
          line += blankBefore;
          // a bad record has a fourth field; a record is never all blank (an empty line is skipped, not a record)
          const cells = bad ? [...record, 'x'] : [`s${record[0]}`, record[1], record[2]];
          const csv = stringify([cells], { record_delimiter: eol, quoted: true });
          text += csv;
          expected.push({ line, bad });
          line += (csv.match(/\n/g) ?? []).length; // every line break holds one \n (cells hold no lone \r)
        }
        const found = await linesOf(text);
        expect(found.map((l) => ({ line: l.line, bad: l.problem !== undefined }))).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('reports a wrong field count and an unclosed quote as problems of their lines, then goes on', async () => {
    const found = await linesOf(
      `\uFEFF${HEADER}\r\nA,one,\r\nB,two\r\n\r\nC,"three\nlines",x\r\nD,four,\r\n"E,five\r\n`,
    );
    expect(found.map(({ line, cells, problem }) => ({ line, sku: cells?.sku, problem }))).toEqual([
      { line: 2, sku: 'A', problem: undefined },
      { line: 3, sku: undefined, problem: 'wrong number of fields: 3 in the header, 2 here' },
      { line: 5, sku: 'C', problem: undefined },
      { line: 7, sku: 'D', problem: undefined },
      { line: 8, sku: undefined, problem: 'a quoted field is never closed' },
    ]);
  });

  it('refuses an empty file and a bad header before any record', async () => {
    await expect(linesOf('')).rejects.toThrow('a header row is required');
    await expect(linesOf('sku,price\nA,1\n')).rejects.toThrow('unknown column "price"');
  });
});

describe('validateLine', () => {
  const valid = (cells: Record<string, string>) => validateLine(2, cells, 'import f.csv');

  it('turns cells into the fields a line gives: numbers, an empty description as null, other empty cells left out', async () => {
    expect(await valid({ sku: 'A-1', name: 'Widget', description: '', unit: '', reorderPoint: '5' })).toEqual({
      line: 2,
      sku: 'A-1',
      product: { name: 'Widget', description: null, reorderPoint: 5 },
      stock: undefined,
    });
    expect(await valid({ sku: 'A-1', name: '', warehouse: 'MAIN', onHand: '0' })).toEqual({
      line: 2,
      sku: 'A-1',
      product: {},
      stock: { warehouse: 'MAIN', onHand: 0 },
    });
  });

  it("refuses what the HTTP API refuses, with the DTOs' messages", async () => {
    const errorsOf = async (cells: Record<string, string>) => {
      const result = await valid({ sku: 'A-1', ...cells });
      return 'errors' in result ? result.errors : {};
    };
    expect(await errorsOf({ sku: 'bad sku' })).toEqual({ sku: ['must be 1..64 of [A-Za-z0-9._-]'] });
    expect(await errorsOf({ sku: 'x'.repeat(65) })).toEqual({ sku: ['must be 1..64 of [A-Za-z0-9._-]'] });
    expect(await errorsOf({ name: 'n'.repeat(201) })).toEqual({
      name: ['must be shorter than or equal to 200 characters'],
    });
    expect(await errorsOf({ description: 'd'.repeat(2001) })).toEqual({
      description: ['must be shorter than or equal to 2000 characters'],
    });
    expect(await errorsOf({ unit: 'u'.repeat(17) })).toEqual({
      unit: ['must be shorter than or equal to 16 characters'],
    });
    expect(await errorsOf({ reorderPoint: '-1' })).toEqual({ reorderPoint: ['must not be less than 0'] });
    expect(await errorsOf({ reorderPoint: '1000000001' })).toEqual({
      reorderPoint: ['must not be greater than 1000000000'],
    });
    expect(await errorsOf({ reorderPoint: '2.5' })).toEqual({ reorderPoint: ['must be an integer number'] });
    expect(await errorsOf({ reorderPoint: 'ten' })).toEqual({
      reorderPoint: expect.arrayContaining(['must be an integer number']),
    });
    expect(await errorsOf({ warehouse: 'MAIN', onHand: '-1' })).toEqual({ onHand: ['must not be less than 0'] });
    expect(await errorsOf({ warehouse: 'MAIN', onHand: '9007199254740993' })).toEqual({
      onHand: ['must not be greater than 9007199254740991'],
    });
    expect(await errorsOf({ warehouse: 'main', onHand: '1' })).toEqual({ warehouse: ['must be a warehouse code'] });
    expect(await errorsOf({ warehouse: '', onHand: '1' })).toEqual({ warehouse: ['required with onHand'] });
    expect(await errorsOf({ warehouse: 'MAIN', onHand: '' })).toEqual({ onHand: ['required with a warehouse'] });
  });

  it('never throws, whatever the cells hold', async () => {
    const text = fc.string({ maxLength: 80 });
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          sku: text,
          name: text,
          description: text,
          unit: text,
          reorderPoint: text,
          warehouse: text,
          onHand: text,
        }),
        async (cells) => {
          const result = await valid(cells);
          if ('errors' in result) expect(Object.keys(result.errors).length).toBeGreaterThan(0);
          else expect(result.sku).toBe(cells.sku);
        },
      ),
    );
  });
});
