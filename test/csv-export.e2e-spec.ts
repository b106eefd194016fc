import { jest } from '@jest/globals';
import { get, IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import { Logger } from '@nestjs/common';
import { parse } from 'csv-parse/sync';
import type { ProductView } from '../src/modules/products/dto/product.dto';
import type { LevelView, MovementView } from '../src/modules/stock/stock.views';
import { StockService } from '../src/modules/stock/stock.service';
import { expectError, expectNotFound, expectValidation } from './support/errors';
import { ServiceProcess, startServiceProcess } from './support/service-process';
import { Json, stockSuite } from './support/stock';
import { bearer } from './support/test-app';
import { waitFor } from './support/wait';

/**
 * GET /api/products/export.csv and GET /api/stock/movements/export.csv: RFC 4180 CSV streamed from the
 * list reads, over HTTP on this jest project's driver. The columns, the quoting and the formula guard
 * are written out here from the contract, not taken from the code under test.
 */
const s = stockSuite();

const PRODUCT_HEADER = 'id,sku,name,description,unit,reorderPoint,onHand,reserved,available';
const MOVEMENT_HEADER =
  'id,type,productId,sku,warehouse,quantity,balanceAfter,reference,note,reason,actor,requestId,createdAt';
const BULK_ROWS = 100_000;
/** The bulk movements are dated from here, one a second: long before any the suite's stock writes make. */
const BULK_START = Date.UTC(2001, 0, 1);
const iso = (ms: number) => new Date(ms).toISOString();
/** The export of the bulk movements alone (the rows of the last `rows` seconds of them). */
const bulkQuery = (rows = BULK_ROWS) =>
  `from=${iso(BULK_START + (BULK_ROWS - rows) * 1000)}&to=${iso(BULK_START + BULK_ROWS * 1000)}`;
/** ~170 bytes a row: 17 MB in all, several times what the sockets between server and client hold. */
const bulkNote = (i: number) => `bulk note ${i}, "quoted" ${'x'.repeat(60)}`;
/** RSS the service may add while it streams BULK_ROWS movements. */
const RSS_GROWTH_LIMIT_MB = 60;
/**
 * The service's old generation, capped for the memory test: V8 otherwise lets garbage pile up to a few
 * hundred MB before it collects, whatever the live size. Streaming fits easily; holding the rows does not
 * (an export that buffered them all dies of "heap out of memory" under this cap).
 */
const OLD_SPACE_LIMIT_MB = 96;

/** The contract's guard, for a text cell: a leading ' before =, +, -, @, tab or CR. */
const text = (value: string | null) => (value === null ? '' : /^[=+\-@\t\r]/.test(value) ? `'${value}` : value);

/** The records of a CSV body, which must be RFC 4180 with CRLF line ends (csv-parse refuses anything else). */
function records(body: string): string[][] {
  return parse(body, { record_delimiter: '\r\n', relax_quotes: false, relax_column_count: false }) as string[][];
}

/** The data records of an export answer, after checking what every export answer carries. */
function csvOf(res: { status: number; headers: Json; text: string }, file: string, header: string): string[][] {
  expect({ status: res.status, type: res.headers['content-type'] }).toEqual({
    status: 200,
    type: 'text/csv; charset=utf-8',
  });
  expect(res.headers['content-disposition']).toBe(`attachment; filename="${file}"`);
  expect(res.text.startsWith(`${header}\r\n`)).toBe(true);
  expect(res.text.endsWith('\r\n')).toBe(true);
  const [head, ...rows] = records(res.text);
  expect(head.join(',')).toBe(header);
  return rows;
}

const exportProducts = (query = '', token = s.t.tokens.viewer) =>
  s.t.http.get(`/api/products/export.csv${query}`).set(bearer(token));
const exportMovements = (query = '', token = s.t.tokens.viewer) =>
  s.t.http.get(`/api/stock/movements/export.csv${query}`).set(bearer(token));

const productRows = async (query = '') => csvOf(await exportProducts(query), 'products.csv', PRODUCT_HEADER);
const movementRows = async (query = '') => csvOf(await exportMovements(query), 'movements.csv', MOVEMENT_HEADER);

/** Ids, in order, of every item the JSON list route answers for `query`, walking its cursors. */
async function listIds(path: string, query: string): Promise<number[]> {
  const { items } = await s.walk<{ id: number }>(query ? `${path}?${query}` : path, 200);
  return items.map((item) => item.id);
}

// ---------------------------------------------------------------- a raw HTTP client, to watch a transfer

let baseUrl: string;

/** Sends the GET and resolves with the response as soon as its headers arrive, unread (the client is paused). */
function open(url: string, token: string, requestId?: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers = { ...bearer(token), ...(requestId ? { 'X-Request-Id': requestId } : {}) };
    get(url, { headers, agent: false }, resolve).on('error', reject);
  });
}

/** Reads the body to its end; `complete` is false when the server cut the transfer short. */
function readAll(res: IncomingMessage, onChunk: () => void = () => undefined) {
  return new Promise<{ body: string; complete: boolean }>((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve({ body: Buffer.concat(chunks).toString('utf8'), complete: res.complete });
    };
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      onChunk();
    });
    res.on('end', finish);
    res.on('error', finish);
    res.on('close', finish);
  });
}

beforeAll(async () => {
  // a port of its own, for the raw client (supertest keeps using the same server)
  await s.t.app.listen(0, '127.0.0.1');
  const address = s.t.app.getHttpServer().address() as { port: number };
  baseUrl = `http://127.0.0.1:${address.port}`;
});

afterEach(() => jest.restoreAllMocks());

// ---------------------------------------------------------------- products

describe('GET /api/products/export.csv', () => {
  const tag = 'csvexp';
  let main: ProductView;
  let quoted: ProductView;
  let negative: ProductView;
  let formulas: ProductView[];
  let archived: ProductView;
  let w2: string;

  async function create(body: Json): Promise<ProductView> {
    const res = await s.t.http.post('/api/products').set(bearer(s.t.tokens.manager)).send(body);
    expect(res.status).toBe(201);
    return res.body as ProductView;
  }

  beforeAll(async () => {
    w2 = await s.createWarehouse('CSVP');
    main = await create({ sku: `${tag}-main`, name: `Main ${tag}`, reorderPoint: 100 });
    quoted = await create({
      sku: `${tag}-quoted`,
      name: `Bolt, "M6"\nzinc ${tag}`,
      description: 'first line\r\nsecond, with "quotes"',
      unit: 'box',
      reorderPoint: 2,
    });
    negative = await create({ sku: `${tag}-negative`, name: `Short ${tag}`, description: '-5', unit: '=A1' });
    formulas = [];
    for (const [i, name] of ['=1+2', '@x', '-x', '+x', '\tx', '\rx'].entries()) {
      formulas.push(await create({ sku: `${tag}-formula-${i}`, name }));
    }
    archived = await create({ sku: `${tag}-archived`, name: `Archived ${tag}` });
    await s.t.http.delete(`/api/products/${archived.id}`).set(bearer(s.t.tokens.manager)).expect(204);

    // main: 10 + 5 on hand over two warehouses, 3 reserved; negative: 1 on hand, 4 reserved (available -3)
    await s.stockIn(main.id, 10);
    await s.stockIn(main.id, 5, w2);
    await s.stockIn(negative.id, 5);
    for (const [productId, quantity] of [
      [main.id, 3],
      [negative.id, 4],
    ]) {
      const res = await s.t.http
        .post('/api/stock/reservations')
        .set(bearer(s.t.tokens.operator))
        .send({ lines: [{ productId, quantity }] });
      expect(res.status).toBe(201);
    }
    await s.ok('adjust', { productId: negative.id, countedQuantity: 1, reason: 'COUNT' });
  });

  /** The row the contract expects for a product: its fields, and totals from GET /api/stock. */
  async function expectedRow(product: ProductView): Promise<string[]> {
    const res = await s.t.http.get(`/api/stock?productId=${product.id}`).set(bearer(s.t.tokens.viewer)).expect(200);
    const levels = res.body.items as LevelView[];
    const onHand = levels.reduce((sum, l) => sum + l.onHand, 0);
    const reserved = levels.reduce((sum, l) => sum + l.reserved, 0);
    return [
      String(product.id),
      text(product.sku),
      text(product.name),
      text(product.description),
      text(product.unit),
      String(product.reorderPoint),
      String(onHand),
      String(reserved),
      String(onHand - reserved),
    ];
  }

  it('streams every active product as CSV: headers, header row, CRLF, one row each, in id order', async () => {
    const res = await exportProducts();
    const rows = csvOf(res, 'products.csv', PRODUCT_HEADER);
    expect(res.headers['x-request-id']).toEqual(expect.any(String));
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(rows.map((r) => Number(r[0]))).toEqual(await listIds('/api/products', ''));
    for (const row of rows) expect(row).toHaveLength(9);
  });

  it('writes the exact cells: totals over warehouses, reserved, available (negative stays a number), null as empty', async () => {
    const byId = new Map((await productRows()).map((row) => [Number(row[0]), row]));
    expect(byId.get(main.id)).toEqual([
      String(main.id),
      `${tag}-main`,
      `Main ${tag}`,
      '',
      'pcs',
      '100',
      '15',
      '3',
      '12',
    ]);
    expect(byId.get(negative.id)).toEqual([
      String(negative.id),
      `${tag}-negative`,
      `Short ${tag}`,
      "'-5", // text that looks like a number is still text
      "'=A1",
      '0',
      '1',
      '4',
      '-3', // a number is never guarded
    ]);
    for (const product of [main, quoted, negative, ...formulas]) {
      expect(byId.get(product.id)).toEqual(await expectedRow(product));
    }
  });

  it('quotes commas, quotes and line breaks (RFC 4180), and round-trips them', async () => {
    const res = await exportProducts();
    expect(res.text).toContain(
      `\r\n${quoted.id},${tag}-quoted,"Bolt, ""M6""\nzinc ${tag}","first line\r\nsecond, with ""quotes""",box,2,0,0,0\r\n`,
    );
    const row = csvOf(res, 'products.csv', PRODUCT_HEADER).find((r) => Number(r[0]) === quoted.id);
    expect(row?.slice(2, 4)).toEqual([`Bolt, "M6"\nzinc ${tag}`, 'first line\r\nsecond, with "quotes"']);
  });

  it("guards formulas: text starting with =, +, -, @, tab or CR gets a leading '", async () => {
    const byId = new Map((await productRows()).map((row) => [Number(row[0]), row[2]]));
    expect(formulas.map((p) => byId.get(p.id))).toEqual(["'=1+2", "'@x", "'-x", "'+x", "'\tx", "'\rx"]);
  });

  it('leaves archived products out, as the list does', async () => {
    const ids = (await productRows()).map((r) => Number(r[0]));
    expect(ids).not.toContain(archived.id);
    expect(ids).toContain(main.id);
  });

  it.each([
    ['search', `search=${tag}`],
    ['search on a SKU prefix, any case', `search=${tag.toUpperCase()}-FORMULA`],
    ['search matching nothing', 'search=no-such-product-anywhere'],
    ['lowStock=true', 'lowStock=true'],
    ['lowStock=false', 'lowStock=false'],
    ['search and lowStock', `search=${tag}&lowStock=true`],
  ])('filters like the list: %s', async (_, query) => {
    const listed = await listIds('/api/products', query);
    expect((await productRows(`?${query}`)).map((r) => Number(r[0]))).toEqual(listed);
  });

  it('keeps for lowStock the products whose total available is at most their reorder point (reserved units count)', async () => {
    const column = (name: string) => PRODUCT_HEADER.split(',').indexOf(name);
    const [available, reorderPoint] = [column('available'), column('reorderPoint')];
    const low = await productRows('?lowStock=true');
    expect(low.map((r) => Number(r[0]))).toContain(negative.id); // 1 on hand, 4 reserved: low by available only
    for (const row of low) expect(Number(row[available])).toBeLessThanOrEqual(Number(row[reorderPoint]));
    for (const row of await productRows('?lowStock=false')) {
      expect(Number(row[available])).toBeGreaterThan(Number(row[reorderPoint]));
    }
  });

  it('is not taken for GET /api/products/:id (which still refuses other names)', async () => {
    await exportProducts().expect(200);
    const head = await s.t.http.head('/api/products/export.csv').set(bearer(s.t.tokens.viewer));
    expect({ status: head.status, type: head.headers['content-type'] }).toEqual({
      status: 200,
      type: 'text/csv; charset=utf-8',
    });
    expectValidation(await s.t.http.get('/api/products/export.json').set(bearer(s.t.tokens.viewer)), ['id']);
    expectValidation(await s.t.http.get('/api/products/export').set(bearer(s.t.tokens.viewer)), ['id']);
  });

  it.each([
    ['lowStock=maybe', 'lowStock'],
    ['search=', 'search'],
    [`search=${'x'.repeat(101)}`, 'search'],
    ['limit=10', 'limit'],
    ['cursor=abc', 'cursor'],
    [`sku=${tag}-main`, 'sku'], // not a filter of the export in the contract
    ['unknown=1', 'unknown'],
  ])('a bad filter (%s): 400 VALIDATION_FAILED naming %s', async (query, field) => {
    const res = await exportProducts(`?${query}`);
    expectValidation(res, [field]);
    expect(res.headers['content-disposition']).toBeUndefined();
  });
});

// ---------------------------------------------------------------- movements

describe('GET /api/stock/movements/export.csv', () => {
  let product: ProductView;
  let other: ProductView;
  let warehouse: string;
  let between: { from: string; to: string };

  beforeAll(async () => {
    const create = await s.t.http
      .post('/api/products')
      .set(bearer(s.t.tokens.manager))
      .send({ sku: `-csvmov-${s.next()}`, name: 'Movements, "exported"' });
    expect(create.status).toBe(201);
    product = create.body as ProductView;
    other = await s.createProduct('CsvMovOther');
    warehouse = `-CSVM_${s.next()}`;
    await s.t.http
      .post('/api/warehouses')
      .set(bearer(s.t.tokens.manager))
      .send({ code: warehouse, name: 'Leading dash' })
      .expect(201);

    await s.ok(
      'in',
      { productId: product.id, quantity: 10, reference: '=HYPERLINK("http://x")', note: 'a, "b"\nc' },
      { requestId: 'csv-in-1' },
    );
    await s.ok('out', { productId: product.id, quantity: 3, note: '-5' }, { requestId: 'csv-out-1' });
    await s.ok('adjust', { productId: product.id, delta: -2, reason: 'DAMAGE', note: '@broken' });
    await s.ok('transfer', { productId: product.id, from: 'MAIN', to: warehouse, quantity: 1, reference: '+ref' });
    await s.stockIn(other.id, 4, warehouse);
    await s.stockIn(other.id, 6);
    const mine = (await s.walk<MovementView>(`/api/stock/movements?productId=${product.id}`, 200)).items;
    // the two in the middle of the product's five (newest first): the adjust and the out
    between = { from: mine[2].createdAt, to: mine[1].createdAt };
  });

  /** The row the contract expects for a movement as the JSON list shows it. */
  const expectedRow = (m: MovementView) => [
    String(m.id),
    m.type,
    String(m.productId),
    text(m.sku),
    text(m.warehouse),
    String(m.quantity),
    String(m.balanceAfter),
    text(m.reference),
    text(m.note),
    text(m.reason),
    text(m.actor.username),
    text(m.requestId),
    m.createdAt,
  ];

  it('streams the movements as CSV, newest first, each row exactly the JSON list’s movement', async () => {
    const listed = (await s.walk<MovementView>(`/api/stock/movements?productId=${product.id}`, 200)).items;
    expect(listed.map((m) => m.type)).toEqual(['TRANSFER_IN', 'TRANSFER_OUT', 'ADJUST', 'OUT', 'IN']);
    const rows = await movementRows(`?productId=${product.id}`);
    expect(rows).toEqual(listed.map(expectedRow));

    const [transferIn, transferOut, adjust, out, received] = rows;
    expect(received.slice(5, 13)).toEqual([
      '10',
      '10',
      `'=HYPERLINK("http://x")`,
      'a, "b"\nc',
      '',
      s.operator.username,
      'csv-in-1',
      listed[4].createdAt,
    ]);
    expect(out.slice(5, 10)).toEqual(['-3', '7', '', "'-5", '']); // a negative quantity is a number; "-5" text is not
    expect(adjust.slice(5, 10)).toEqual(['-2', '5', '', "'@broken", 'DAMAGE']);
    expect(adjust[10]).toBe(s.manager.username);
    expect(transferOut.slice(3, 8)).toEqual([`'${product.sku}`, 'MAIN', '-1', '4', "'+ref"]);
    expect(transferIn.slice(3, 8)).toEqual([`'${product.sku}`, `'${warehouse}`, '1', '1', "'+ref"]);
    expect(received[12]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('quotes the note’s comma, quotes and newline on the wire', async () => {
    const res = await exportMovements(`?productId=${product.id}&type=IN`);
    // a quote inside a cell quotes the cell (after its guard), a comma or a newline too
    expect(res.text).toContain(`,"'=HYPERLINK(""http://x"")","a, ""b""\nc",,${s.operator.username},csv-in-1,`);
  });

  it.each([
    ['no filter', () => ''],
    ['productId', () => `productId=${product.id}`],
    ['sku, any case', () => `sku=${product.sku.toUpperCase()}`],
    ['warehouse', () => `warehouse=${warehouse}`],
    ['type', () => 'type=OUT'],
    ['from and to, both inclusive', () => `from=${between.from}&to=${between.to}`],
    ['from alone', () => `from=${between.to}`],
    ['everything at once', () => `productId=${other.id}&warehouse=${warehouse}&type=IN&from=${between.from}`],
  ])('filters like the list: %s', async (_, filter) => {
    const query = filter();
    const listed = await listIds('/api/stock/movements', query);
    expect(listed.length).toBeGreaterThan(0);
    expect((await movementRows(query ? `?${query}` : '')).map((r) => Number(r[0]))).toEqual(listed);
  });

  it('answers a filter matching nothing with the header row alone', async () => {
    const res = await exportMovements(`?productId=${other.id}&type=ADJUST`);
    expect(csvOf(res, 'movements.csv', MOVEMENT_HEADER)).toEqual([]);
    expect(res.text).toBe(`${MOVEMENT_HEADER}\r\n`);
  });

  it('keeps an archived product’s movements readable when it is named, as the list does', async () => {
    const gone = await s.createProduct('CsvMovGone');
    await s.stockIn(gone.id, 2);
    await s.ok('out', { productId: gone.id, quantity: 2 });
    await s.t.http.delete(`/api/products/${gone.id}`).set(bearer(s.t.tokens.manager)).expect(204);
    const rows = await movementRows(`?sku=${gone.sku}`);
    expect(rows.map((r) => r[1])).toEqual(['OUT', 'IN']);
    expect(rows.map((r) => Number(r[0]))).toEqual(await listIds('/api/stock/movements', `productId=${gone.id}`));
  });

  it('unknown product, SKU or warehouse: 404 NOT_FOUND naming it, as JSON', async () => {
    expectNotFound(await exportMovements('?productId=99999991'), 99999991);
    expectNotFound(await exportMovements('?sku=NO-SUCH-CSV'), 'NO-SUCH-CSV');
    expectNotFound(await exportMovements('?warehouse=NOWHERE_CSV'), 'NOWHERE_CSV');
  });

  it.each([
    ['productId=abc', 'productId'],
    ['productId=0', 'productId'],
    ['sku=not%20a%20sku', 'sku'],
    ['warehouse=lower', 'warehouse'],
    ['type=SIDEWAYS', 'type'],
    ['from=yesterday', 'from'],
    ['to=2026-13-01T00:00:00.000Z', 'to'],
    ['limit=5', 'limit'],
    ['cursor=abc', 'cursor'],
  ])('a bad filter (%s): 400 VALIDATION_FAILED naming %s', async (query, field) => {
    const res = await exportMovements(`?${query}`);
    expectValidation(res, [field]);
    expect(res.headers['content-disposition']).toBeUndefined();
  });

  it('a failure before the first byte (the first page) answers the contract’s JSON error', async () => {
    jest.spyOn(s.t.app.get(StockService), 'movements').mockRejectedValue(new Error('simulated database failure'));
    const res = await exportMovements(`?productId=${product.id}`).set('X-Request-Id', 'csv-first-page-fails');
    expectError(res, 500, 'INTERNAL');
    expect(res.body.requestId).toBe('csv-first-page-fails');
    expect(res.headers['content-disposition']).toBeUndefined();
  });
});

// ---------------------------------------------------------------- who may export

describe('roles', () => {
  it.each([
    ['/api/products/export.csv', 'products.csv'],
    ['/api/stock/movements/export.csv', 'movements.csv'],
  ])('%s: viewer, operator, manager, admin; monitor 403; no token 401', async (path, file) => {
    for (const role of ['viewer', 'operator', 'manager', 'admin'] as const) {
      const res = await s.t.http.get(path).set(bearer(s.t.tokens[role]));
      expect({ role, status: res.status, disposition: res.headers['content-disposition'] }).toEqual({
        role,
        status: 200,
        disposition: `attachment; filename="${file}"`,
      });
    }
    expectError(await s.t.http.get(path).set(bearer(s.t.tokens.monitor)), 403, 'FORBIDDEN');
    expectError(await s.t.http.get(path), 401, 'UNAUTHORIZED');
    expectError(await s.t.http.get(path).set('Authorization', 'Bearer not-a-jwt'), 401, 'UNAUTHORIZED');
  });
});

// ---------------------------------------------------------------- many rows

describe(`${BULK_ROWS.toLocaleString('en')} movements`, () => {
  let bulk: ProductView;
  const bulkUrl = () => `${baseUrl}/api/stock/movements/export.csv?${bulkQuery()}`;

  beforeAll(async () => {
    bulk = await s.createProduct('CsvBulk');
    const [{ id: warehouseId }] = await s.query<{ id: number }>("SELECT id FROM warehouses WHERE code = 'MAIN'");
    const [{ id: actorId }] = await s.query<{ id: number }>("SELECT id FROM users WHERE username = 'admin'");
    // straight into the ledger, in multi-row INSERTs: fixtures, not stock writes under test
    const BATCH = 2000;
    for (let first = 0; first < BULK_ROWS; first += BATCH) {
      const params: unknown[] = [];
      for (let i = first; i < first + BATCH; i++) {
        const at = iso(BULK_START + i * 1000)
          .replace('T', ' ')
          .replace('Z', '');
        params.push('IN', bulk.id, warehouseId, 1, i + 1, `PO-${i}`, bulkNote(i), actorId, 'admin', at);
      }
      await s.query(
        `INSERT INTO stock_movements (type, product_id, warehouse_id, quantity, balance_after, reference, note, actor_id, actor_username, created_at) VALUES ${Array.from({ length: BATCH }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        params,
      );
    }
  }, 60_000);

  /** Every record is 13 cells of the bulk product, ids strictly descending: valid CSV, every row once. */
  function expectBulk(body: string): void {
    const [head, ...rows] = records(body);
    expect(head.join(',')).toBe(MOVEMENT_HEADER);
    expect(rows).toHaveLength(BULK_ROWS);
    expect(rows[0].slice(1, 5)).toEqual(['IN', String(bulk.id), bulk.sku, 'MAIN']);
    let previous = Infinity;
    for (const row of rows) {
      const id = Number(row[0]);
      if (row.length !== 13 || row[2] !== String(bulk.id) || !(id < previous)) {
        throw new Error(`unexpected record ${JSON.stringify(row)}`);
      }
      previous = id;
    }
    expect(rows[0].slice(5, 9)).toEqual(['1', String(BULK_ROWS), `PO-${BULK_ROWS - 1}`, bulkNote(BULK_ROWS - 1)]);
  }

  it('reads pages only as fast as the client takes them (backpressure), and stops when it goes away', async () => {
    const service = s.t.app.get(StockService);
    const real = service.movements.bind(service);
    let pageReads = 0;
    let reading = 0;
    jest.spyOn(service, 'movements').mockImplementation(async (query) => {
      pageReads++;
      reading++;
      try {
        return await real(query);
      } finally {
        reading--;
      }
    });
    const pages = BULK_ROWS / 1000;
    /** The page reads once none is under way and none has started for half a second. */
    const settled = async (what: string) => {
      let count = -1;
      let since = Date.now();
      await waitFor(what, () => {
        if (pageReads !== count || reading > 0) [count, since] = [pageReads, Date.now()];
        return Date.now() - since >= 500;
      });
      return count;
    };
    const res = await open(bulkUrl(), s.t.tokens.viewer);
    expect(res.statusCode).toBe(200);
    // the client reads nothing: once the socket buffers are full, the server stops reading pages
    const whilePaused = await settled('page reads to stop while the client reads nothing');
    process.stdout.write(
      `csv export backpressure: ${whilePaused} of ${pages} pages read while the client read nothing\n`,
    );
    expect(whilePaused).toBeLessThan(pages / 2);
    // as the client reads, the server reads on
    res.resume();
    await waitFor('page reads to go on as the client reads', () => pageReads >= whilePaused + 5);
    // the client goes away: the server stops reading
    const atAbort = pageReads;
    res.destroy();
    const afterAbort = await settled('page reads to stop once the client has gone');
    expect(afterAbort).toBeLessThan(pages);
    expect(afterAbort).toBeLessThanOrEqual(atAbort + 2);
  });

  it('a failure after streaming started: logged with the request id, the transfer cut short, no JSON', async () => {
    const service = s.t.app.get(StockService);
    const real = service.movements.bind(service);
    let calls = 0;
    jest
      .spyOn(service, 'movements')
      .mockImplementation((query) =>
        ++calls === 1 ? real(query) : Promise.reject(new Error('simulated database failure')),
      );
    const logged = jest.spyOn(Logger.prototype, 'error');
    const res = await open(bulkUrl(), s.t.tokens.viewer, 'csv-cut-short');
    expect(res.statusCode).toBe(200);
    const { body, complete } = await readAll(res);
    expect(complete).toBe(false);
    expect(body.startsWith(`${MOVEMENT_HEADER}\r\n`)).toBe(true);
    expect(body).not.toContain('statusCode');
    expect(body.split('\r\n').length).toBeLessThanOrEqual(1002); // the header and at most the first page
    expect(logged).toHaveBeenCalledWith(
      expect.objectContaining({ requestId: 'csv-cut-short', err: expect.any(Error) }),
      expect.stringContaining('cut short'),
    );
  });

  describe('in a service process of its own', () => {
    let service: ServiceProcess;
    beforeAll(async () => {
      const nodeOptions = [process.env.NODE_OPTIONS, `--max-old-space-size=${OLD_SPACE_LIMIT_MB}`];
      service = await startServiceProcess({
        ...s.t.database.env,
        JWT_SECRET: process.env.JWT_SECRET!,
        NODE_OPTIONS: nodeOptions.filter(Boolean).join(' '),
      });
    });
    afterAll(() => service?.stop());

    const rssMb = () => {
      const status = readFileSync(`/proc/${service.child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
    };

    it(`streams all ${BULK_ROWS.toLocaleString('en')} rows in constant memory (RSS growth < ${RSS_GROWTH_LIMIT_MB} MB)`, async () => {
      const url = (rows?: number) => `${service.url}/api/stock/movements/export.csv?${bulkQuery(rows)}`;
      // warm up on a few pages: code compiled and the heap at its working size before the baseline
      const warm = await readAll(await open(url(BULK_ROWS / 20), s.t.tokens.viewer));
      expect(warm.complete).toBe(true);
      expect(warm.body.split('\r\n')).toHaveLength(BULK_ROWS / 20 + 2);
      const baseline = rssMb();
      let peak = baseline;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 20);
      const started = Date.now();
      try {
        const res = await open(url(), s.t.tokens.viewer);
        expect(res.statusCode).toBe(200);
        const { body, complete } = await readAll(res, () => (peak = Math.max(peak, rssMb())));
        expect(complete).toBe(true);
        expect(body.split('\r\n')).toHaveLength(BULK_ROWS + 2); // the header, the rows and the final CRLF
        expectBulk(body);
        const growth = peak - baseline;
        process.stdout.write(
          `csv export of ${BULK_ROWS} rows (${(body.length / 1e6).toFixed(1)} MB) in ${Date.now() - started} ms: ` +
            `service RSS ${baseline.toFixed(1)} MB → peak ${peak.toFixed(1)} MB (+${growth.toFixed(1)} MB)\n`,
        );
        expect(growth).toBeLessThan(RSS_GROWTH_LIMIT_MB);
      } finally {
        clearInterval(sampler);
      }
    });
  });
});
