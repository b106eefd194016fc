import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loginTo } from './support/service-client';
import { ADMIN, serviceEnv } from './support/service-env';
import { ServiceProcess, startServiceProcess } from './support/service-process';
import { createTestDatabase, TestDatabase } from './support/test-database';

const CLI = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
/** Who the CLI's changes are audited as (src/cli/commands.ts cliContext). */
const ACTOR = `cli:${userInfo().username}`;
const TABLES = ['products', 'product_terms', 'stock_levels', 'stock_movements', 'audit_logs', 'events'] as const;

/**
 * `npm run cli -- import:products <file> [--dry-run]`, run as a child process against a real database on
 * this jest project's driver, beside a service process (for the warehouse and the archived product the
 * suite needs, and to read what the import left through the contract's views).
 */
describe('import:products', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  let service: ServiceProcess;
  let token: string;
  let folder: string;

  /** Runs the built CLI with stdout a pipe (no terminal); resolves with its exit code and output. */
  const cli = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const child = execFile(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env, LOG_LEVEL: 'warn', ...extraEnv },
    });
    child.stdin!.end();
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    // a pipe gets plain lines: never a control character (ANSI escape, carriage return)
    expect(stdout).not.toContain('\x1b');
    expect(stdout).not.toContain('\r');
    return { code, stdout, stderr };
  };
  const importFile = (name: string, text: string, ...flags: string[]) => importWith({}, name, text, ...flags);
  const importWith = (extraEnv: Record<string, string>, name: string, text: string, ...flags: string[]) => {
    const path = join(folder, name);
    writeFileSync(path, text);
    return cli(['import:products', path, ...flags], extraEnv);
  };
  /** The summary's count for `label` (`created`, `would create`, `stock counted`, …). */
  const summary = (stdout: string, label: string) => {
    const match = new RegExp(`^  ${label}:\\s+(\\d+)$`, 'm').exec(stdout);
    if (!match) throw new Error(`no "${label}" in:\n${stdout}`);
    return Number(match[1]);
  };
  const errorLines = (stdout: string) => stdout.split('\n').filter((line) => /^line \d+: /.test(line));
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as Record<string, unknown>) };
  };
  const rowCounts = async () => {
    const counts: Record<string, number> = {};
    for (const table of TABLES) {
      const [{ n }] = await database.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table}`);
      counts[table] = Number(n);
    }
    return counts;
  };
  const products = (skus: string[]) =>
    database.query<{ id: number; sku: string; name: string; unit: string; reorder_point: number; version: number }>(
      `SELECT id, sku, name, unit, reorder_point, version FROM products WHERE sku IN (${skus.map(() => '?').join(', ')}) ORDER BY sku`,
      skus,
    );
  const movementsOf = (sku: string) =>
    database.query<{ type: string; code: string; quantity: number; reason: string; note: string; actor: string }>(
      `SELECT m.type, w.code, m.quantity, m.reason, m.note, m.actor_username AS actor FROM stock_movements m
       JOIN products p ON p.id = m.product_id JOIN warehouses w ON w.id = m.warehouse_id WHERE p.sku = ? ORDER BY m.id`,
      [sku],
    );
  const auditOf = async (productIds: number[]) =>
    (
      await database.query<{ action: string; entity_id: string; actor: string }>(
        `SELECT action, entity_id, actor_username AS actor FROM audit_logs
         WHERE action LIKE 'product.%' OR action = 'stock.adjust' ORDER BY id`,
      )
    ).filter((a) => a.action === 'stock.adjust' || productIds.includes(Number(a.entity_id)));

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'inventory-import-'));
    database = await createTestDatabase();
    env = serviceEnv(database);
    await promisify(execFile)(process.execPath, [CLI, 'migrate'], { env: { ...process.env, ...env } });
    service = await startServiceProcess(env);
    token = await loginTo(service.url, ADMIN);
    expect((await api('POST', '/api/warehouses', { code: 'EAST', name: 'East' })).status).toBe(201);
  });
  afterAll(async () => {
    await service?.stop();
    await database?.drop();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  const OPENING = [
    'SKU,Name,Description,Unit,reorderPoint,Warehouse,onHand',
    'IMP-1,Blue widget,Small and blue,pcs,5,MAIN,10',
    'IMP-2,Red widget,,box,0,EAST,7',
    'IMP-3,"Green, ""large"" widget","two',
    'lines",,,,',
    'IMP-4,Empty one,,,,MAIN,0',
  ].join('\r\n');

  it('is listed by --help', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('import:products');
    const own = await cli(['import:products', '--help']);
    expect(own.stdout).toMatch(/--dry-run/);
  });

  it('creates products with opening stock in two warehouses: one COUNT movement each, audited like the API', async () => {
    const res = await importFile('opening.csv', OPENING);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(errorLines(res.stdout)).toEqual([]);
    expect(res.stdout).toMatch(/^opening\.csv done: 4 lines in \d+\.\d s \(\d+ lines\/s\)$/m);
    expect([summary(res.stdout, 'created'), summary(res.stdout, 'updated'), summary(res.stdout, 'unchanged')]).toEqual([
      4, 0, 0,
    ]);
    expect([summary(res.stdout, 'stock counted'), summary(res.stdout, 'failed')]).toEqual([2, 0]);

    const rows = await products(['IMP-1', 'IMP-2', 'IMP-3', 'IMP-4']);
    expect(
      rows.map(({ sku, name, unit, reorder_point, version }) => [sku, name, unit, reorder_point, version]),
    ).toEqual([
      ['IMP-1', 'Blue widget', 'pcs', 5, 1],
      ['IMP-2', 'Red widget', 'box', 0, 1],
      ['IMP-3', 'Green, "large" widget', 'pcs', 0, 1],
      ['IMP-4', 'Empty one', 'pcs', 0, 1],
    ]);
    const count = { type: 'ADJUST', reason: 'COUNT', note: 'import opening.csv', actor: ACTOR };
    expect(await movementsOf('IMP-1')).toEqual([{ ...count, code: 'MAIN', quantity: 10 }]);
    expect(await movementsOf('IMP-2')).toEqual([{ ...count, code: 'EAST', quantity: 7 }]);
    expect(await movementsOf('IMP-3')).toEqual([]);
    expect(await movementsOf('IMP-4')).toEqual([]); // a count of 0 on a new product changes nothing

    // as the contract's reads show them
    const detail = await api('GET', `/api/products/${rows[2].id}`);
    expect(detail.body).toMatchObject({ sku: 'IMP-3', description: 'two\r\nlines', onHand: 0, stock: [] });
    const levels = await api('GET', '/api/stock?sku=IMP-2');
    expect(levels.body!.items).toMatchObject([{ sku: 'IMP-2', warehouse: 'EAST', onHand: 7, available: 7 }]);
    const ledger = await api('GET', '/api/stock/reconcile');
    expect(ledger.body).toMatchObject({ mismatches: [] });
    // the batch path wrote their search terms and low flags: search and lowStock find them as the contract says
    const skusOf = (page: typeof detail) => (page.body!.items as { sku: string }[]).map((p) => p.sku);
    expect(skusOf(await api('GET', '/api/products?search=blue%20wid'))).toEqual(['IMP-1']);
    expect(skusOf(await api('GET', '/api/products?search=imp-'))).toEqual(['IMP-1', 'IMP-2', 'IMP-3', 'IMP-4']);
    // IMP-1 holds 10 over its reorder point 5, IMP-2 7 over 0; IMP-3 and IMP-4 hold nothing, at their 0
    expect(skusOf(await api('GET', '/api/products?lowStock=true&limit=100'))).toEqual(['IMP-3', 'IMP-4']);
    expect(skusOf(await api('GET', '/api/products?lowStock=false&limit=100'))).toEqual(['IMP-1', 'IMP-2']);

    const audit = await auditOf(rows.map((r) => r.id));
    expect(audit.filter((a) => a.action === 'product.create').map((a) => Number(a.entity_id))).toEqual(
      rows.map((r) => r.id),
    );
    expect(audit.filter((a) => a.action === 'stock.adjust')).toHaveLength(2);
    expect(new Set(audit.map((a) => a.actor))).toEqual(new Set([ACTOR]));
    const [events] = await database.query<{ n: number | string }>(
      "SELECT COUNT(*) AS n FROM events WHERE type IN ('product.created', 'stock.movement')",
    );
    expect(Number(events.n)).toBe(4 + 2);
  });

  it('changes nothing when the same file is imported again: no movement, no version, no audit entry', async () => {
    const before = await rowCounts();
    const versions = await products(['IMP-1', 'IMP-2', 'IMP-3', 'IMP-4']);
    const res = await importFile('opening.csv', OPENING);
    expect(res.code).toBe(0);
    expect([summary(res.stdout, 'created'), summary(res.stdout, 'updated'), summary(res.stdout, 'unchanged')]).toEqual([
      0, 0, 4,
    ]);
    expect(summary(res.stdout, 'stock counted')).toBe(0);
    expect(await rowCounts()).toEqual(before);
    expect(await products(['IMP-1', 'IMP-2', 'IMP-3', 'IMP-4'])).toEqual(versions);
  });

  it('updates the fields that differ (SKU matched ignoring case) and counts a level that differs', async () => {
    const [imp1, imp2] = await products(['IMP-1', 'IMP-2']);
    const res = await importFile(
      'update.csv',
      [
        'sku,name,reorderPoint,warehouse,onHand',
        'imp-1,Blue widget v2,5,MAIN,10',
        'IMP-2,Red widget,9,EAST,3',
        'IMP-3,,,,',
      ].join('\n'),
    );
    expect(res.code).toBe(0);
    expect([summary(res.stdout, 'updated'), summary(res.stdout, 'unchanged')]).toEqual([2, 1]);
    expect(summary(res.stdout, 'stock counted')).toBe(1);
    const after = await products(['IMP-1', 'IMP-2', 'IMP-3']);
    expect(after.map(({ sku, name, reorder_point, version }) => [sku, name, reorder_point, version])).toEqual([
      ['IMP-1', 'Blue widget v2', 5, 2],
      ['IMP-2', 'Red widget', 9, 2],
      ['IMP-3', 'Green, "large" widget', 0, 1],
    ]);
    expect((await movementsOf('IMP-2')).map((m) => [m.type, m.quantity, m.reason])).toEqual([
      ['ADJUST', 7, 'COUNT'],
      ['ADJUST', -4, 'COUNT'],
    ]);
    const updates = (await auditOf([imp1.id, imp2.id])).filter((a) => a.action === 'product.update');
    expect(updates.map((a) => Number(a.entity_id))).toEqual(expect.arrayContaining([imp1.id, imp2.id]));
    expect(updates).toHaveLength(2);
  });

  describe('a file with bad lines', () => {
    const BAD = [
      'sku,name,reorderPoint,warehouse,onHand',
      'OK-1,Good one,1,EAST,4', // 2
      'bad sku,Bad,1,,', // 3
      `LONG-1,${'n'.repeat(201)},1,,`, // 4
      'NEG-1,Negative,-1,,', // 5
      'WH-1,Nowhere,1,NOWHERE,4', // 6
      'OH-1,No warehouse,1,,4', // 7
      'FEW-1,Too few', // 8
      'ok-1,Again,1,,', // 9
      'OLD-1,Archived,1,,', // 10
      'OK-2,Good two,,MAIN,2', // 11
    ].join('\n');
    const EXPECTED_ERRORS = [
      'line 3: sku: must be 1..64 of [A-Za-z0-9._-]',
      'line 4: name: must be shorter than or equal to 200 characters',
      'line 5: reorderPoint: must not be less than 0',
      'line 6: warehouse: no warehouse NOWHERE',
      'line 7: warehouse: required with onHand',
      'line 8: wrong number of fields: 5 in the header, 2 here',
      'line 9: sku: ok-1 already appears on line 2',
      'line 10: sku: OLD-1 is archived (its SKU stays taken)',
    ];

    beforeAll(async () => {
      const created = await api('POST', '/api/products', { sku: 'OLD-1', name: 'Old' });
      expect(created.status).toBe(201);
      expect((await api('DELETE', `/api/products/${created.body!.id as number}`)).status).toBe(204);
    });

    it('--dry-run reports every error and what it would do, and writes nothing', async () => {
      const before = await rowCounts();
      const res = await importFile('bad.csv', BAD, '--dry-run');
      expect(res.code).toBe(1);
      expect(errorLines(res.stdout)).toEqual(EXPECTED_ERRORS);
      expect(res.stdout).toContain('bad.csv (dry run: nothing written) done: 10 lines');
      expect([summary(res.stdout, 'would create'), summary(res.stdout, 'would update')]).toEqual([2, 0]);
      expect([summary(res.stdout, 'would count stock'), summary(res.stdout, 'failed')]).toEqual([2, 8]);
      expect(await rowCounts()).toEqual(before);
    });

    it('reports each bad line by number with its field and reason, applies the rest, and exits 1', async () => {
      const res = await importFile('bad.csv', BAD);
      expect(res.code).toBe(1);
      expect(res.stderr).toBe('');
      expect(errorLines(res.stdout)).toEqual(EXPECTED_ERRORS);
      expect([summary(res.stdout, 'created'), summary(res.stdout, 'stock counted')]).toEqual([2, 2]);
      expect(summary(res.stdout, 'failed')).toBe(8);
      expect((await products(['OK-1', 'OK-2'])).map((p) => p.sku)).toEqual(['OK-1', 'OK-2']);
      expect((await movementsOf('OK-1')).map((m) => [m.code, m.quantity])).toEqual([['EAST', 4]]);
      expect((await movementsOf('OK-2')).map((m) => [m.code, m.quantity])).toEqual([['MAIN', 2]]);
      const refused = ['LONG-1', 'NEG-1', 'WH-1', 'OH-1', 'FEW-1'];
      expect(await products(refused)).toEqual([]);
    });
  });

  it('refuses a file it cannot read as a whole with one line and exit code 1, writing nothing', async () => {
    const before = await rowCounts();
    const unknown = await importFile('typo.csv', 'sku,name,reorder_point\nT-1,Typo,3\n');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: typo\.csv: unknown column "reorder_point" in the header/);
    const empty = await importFile('empty.csv', '');
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('a header row is required');
    const missing = await cli(['import:products', join(folder, 'no-such.csv')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Cannot read .*no-such\.csv: no such file/);
    expect(await rowCounts()).toEqual(before);
  });

  it('counts through the read cache with CACHE_REDIS_URL; with its Redis unreachable, refuses the count, changes nothing, and exits', async () => {
    const file = (onHand: number) => `sku,name,warehouse,onHand\nCACHED-1,Cached,MAIN,${onHand}\n`;
    const level = async () => {
      const { body } = await api('GET', '/api/stock?sku=CACHED-1');
      return (body as { items: { onHand: number }[] }).items[0]?.onHand;
    };
    const reachable = await importWith({ CACHE_REDIS_URL: 'redis://127.0.0.1:6379' }, 'cached.csv', file(5));
    expect([reachable.code, summary(reachable.stdout, 'created'), summary(reachable.stdout, 'stock counted')]).toEqual([
      0, 1, 1,
    ]);
    expect(await level()).toBe(5);
    const unreachable = await importWith(
      { CACHE_REDIS_URL: 'redis://127.0.0.1:1' },
      'cached.csv',
      `${file(8)}CACHED-2,Not made,MAIN,3\n`,
    );
    expect(unreachable.code).toBe(1);
    expect(unreachable.stdout + unreachable.stderr).toContain(
      'The read cache cannot be reached, so nothing was changed',
    );
    expect(await level()).toBe(5);
    expect(await movementsOf('CACHED-1')).toHaveLength(1);
    expect(await products(['CACHED-2'])).toEqual([]);
  });

  it('prints plain progress lines when stdout is no terminal', async () => {
    const lines = ['sku,name'];
    for (let i = 0; i < 10_500; i++) lines.push(`BULK-${i},Bulk ${i}`);
    const res = await importFile('bulk.csv', lines.join('\n'), '--dry-run');
    expect(res.code).toBe(0);
    // every 10,000 lines or 2 s, whichever comes first
    expect(res.stdout).toMatch(/^progress: \d+ lines \(\d+%\), \d+ lines\/s, 0 failed$/m);
    expect(summary(res.stdout, 'would create')).toBe(10_500);
  });

  it("writes a file of several chunks: each chunk's new products together, every opening count, one movement each", async () => {
    const before = await rowCounts();
    // a bad line in the first chunk (1,000 lines) and one in the second (the order of reports while a
    // chunk's counts overlap the next chunk is held by product-import.service.spec.ts)
    const lines = ['sku,name,warehouse,onHand', 'CHUNK BAD,Bad,MAIN,1'];
    for (let i = 0; i < 1_200; i++) lines.push(`CHUNK-${i},Chunked ${i},MAIN,${i + 1}`);
    lines.push('CHUNK-7,Repeated,MAIN,1');
    const res = await importFile('chunks.csv', lines.join('\n'));
    const expected = {
      code: 1,
      errors: ['line 2: sku: must be 1..64 of [A-Za-z0-9._-]', 'line 1203: sku: CHUNK-7 already appears on line 10'],
    };
    const outcome = { code: res.code, errors: errorLines(res.stdout) };
    // stderr not asserted, but shown in the diff when the outcome differs (an asymmetric matcher would hide
    // it): an import stopped by a failure that is no line's fault says why there
    const stderr = JSON.stringify(outcome) === JSON.stringify(expected) ? '' : res.stderr;
    expect({ ...outcome, stderr }).toEqual({ ...expected, stderr: '' });
    expect(summary(res.stdout, 'created')).toBe(1_200);
    expect(summary(res.stdout, 'stock counted')).toBe(1_200);
    const after = await rowCounts();
    expect(after.products - before.products).toBe(1_200);
    expect(after.stock_movements - before.stock_movements).toBe(1_200);
    const [{ total }] = await database.query<{ total: number | string }>(
      "SELECT SUM(m.quantity) AS total FROM stock_movements m JOIN products p ON p.id = m.product_id WHERE p.sku LIKE 'CHUNK-%'",
    );
    expect(Number(total)).toBe((1_200 * 1_201) / 2);
    // each chunk's new products in one transaction (one createdAt per chunk), not one by one
    const [{ stamps }] = await database.query<{ stamps: number | string }>(
      "SELECT COUNT(DISTINCT created_at) AS stamps FROM products WHERE sku LIKE 'CHUNK-%'",
    );
    expect(Number(stamps)).toBe(2);
    // ids ascend in file order, as if created one by one
    const ids = await database.query<{ id: number; sku: string }>(
      "SELECT id, sku FROM products WHERE sku LIKE 'CHUNK-%' ORDER BY id",
    );
    expect(ids.map((r) => r.sku)).toEqual(Array.from({ length: 1_200 }, (_, i) => `CHUNK-${i}`));
  });
});
