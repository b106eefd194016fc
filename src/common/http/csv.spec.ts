import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { csvStream, guardFormula } from './csv';

type Row = { n: number; text: string | null };

async function* pagesOf(pages: Row[][]): AsyncGenerator<Row[]> {
  yield* pages;
}

async function csvOf(pages: Row[][]): Promise<string> {
  const failures: unknown[] = [];
  const stream = await csvStream<Row>(['n', 'text'], pagesOf(pages), (error) => failures.push(error));
  let body = '';
  for await (const chunk of stream) body += String(chunk);
  expect(failures).toEqual([]);
  return body;
}

describe('guardFormula', () => {
  it.each(['=1+2', '+x', '-x', '@x', '\tx', '\rx'])('puts an apostrophe before %p', (text) => {
    expect(guardFormula(text)).toBe(`'${text}`);
  });

  it.each(['', 'x=1', ' =1', "'=1", '1-2', 'plain'])('leaves %p as it is', (text) => {
    expect(guardFormula(text)).toBe(text);
  });
});

describe('csvStream', () => {
  it('writes the header row, CRLF line ends, numbers as they are and null as an empty cell', async () => {
    const body = await csvOf([[{ n: -5, text: '-5' }], [{ n: 2, text: null }]]);
    expect(body).toBe("n,text\r\n-5,'-5\r\n2,\r\n");
  });

  it('writes the header row alone when there is no row', async () => {
    expect(await csvOf([[]])).toBe('n,text\r\n');
  });

  it('round-trips any text through an RFC 4180 parser, guarded, over any paging', async () => {
    const row = fc.record({
      n: fc.integer(),
      text: fc.option(
        fc.string({ unit: fc.constantFrom('a', ',', '"', '\r', '\n', '=', '-', '+', '@', '\t', ' ', 'é', '😀') }),
      ),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(row, { maxLength: 5 }), { minLength: 1, maxLength: 4 }), async (pages) => {
        const records = parse(await csvOf(pages), { record_delimiter: '\r\n' }) as string[][];
        const rows = pages.flat();
        expect(records).toEqual([
          ['n', 'text'],
          ...rows.map((r) => [String(r.n), r.text === null ? '' : guardFormula(r.text)]),
        ]);
      }),
    );
  });

  it('fails before any byte when the first page fails, and destroys the stream when a later one does', async () => {
    async function* failing(after: number): AsyncGenerator<Row[]> {
      for (let i = 0; i < after; i++) yield [{ n: i, text: 'ok' }];
      throw new Error('page failed');
    }
    await expect(csvStream<Row>(['n', 'text'], failing(0), () => undefined)).rejects.toThrow('page failed');

    const failures: unknown[] = [];
    const stream = await csvStream<Row>(['n', 'text'], failing(2), (error) => failures.push(error));
    let body = '';
    await expect(
      (async () => {
        for await (const chunk of stream) body += String(chunk);
      })(),
    ).rejects.toThrow('page failed');
    expect(body).toBe('n,text\r\n0,ok\r\n1,ok\r\n');
    expect(failures).toEqual([expect.objectContaining({ message: 'page failed' })]);
  });

  it('stops reading pages when the reader goes away', async () => {
    let reads = 0;
    async function* endless(): AsyncGenerator<Row[]> {
      for (;;) {
        reads++;
        yield [{ n: reads, text: 'x'.repeat(1000) }];
      }
    }
    const stream = await csvStream<Row>(['n', 'text'], endless(), () => undefined);
    for await (const chunk of stream) {
      expect(String(chunk)).toContain('n,text');
      break; // destroys the stream
    }
    const seen = reads;
    await new Promise((resolve) => setImmediate(resolve));
    expect(reads).toBe(seen);
    expect(reads).toBeLessThan(100);
  });
});
