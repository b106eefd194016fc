/**
 * `npm run cli -- import:products` on 100,000 new products with opening stock (MariaDB), beside the
 * hand-written floor: one mysql2 connection inserting the same products, the same search-index rows,
 * levels and movements in multi-row INSERTs, 1,000 lines per transaction — no validation, no audit
 * entries, no events, no stock write path. Both on a new database, one after the other.
 */
import { execFile } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection, RowDataPacket } from 'mysql2/promise';
import { termsOf } from '../src/common/search-terms';
import { benchServiceEnv, dropDatabase, freshDatabase, server } from './common';

const LINES = Number(process.env.BENCH_IMPORT_LINES ?? 100_000);
const CHUNK = 1_000;
const DB_NAME = 'inventory_bench_import';
const CLI = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const COMMON_WORDS = ['widget', 'bolt', 'screw', 'cable', 'panel', 'filter', 'bracket', 'sensor', 'valve', 'hinge'];
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];

interface Line {
  sku: string;
  name: string;
  description: string;
  reorderPoint: number;
  onHand: number;
}

/** Line i of the file: four-word names (~38 search-index rows a product), a count of 1..50 each. */
const lineOf = (i: number): Line => ({
  sku: `IMP-${String(i).padStart(7, '0')}`,
  name: `${COMMON_WORDS[i % 10]} ${WORDS[(i * 7) % 10]} ${WORDS[(i * 3) % 10]}${i % 997} model${i}`,
  description: `Imported item ${i}`,
  reorderPoint: i % 20,
  onHand: (i % 50) + 1,
});

async function writeFile(path: string): Promise<void> {
  const out = createWriteStream(path);
  out.write('sku,name,description,unit,reorderPoint,warehouse,onHand\n');
  for (let i = 0; i < LINES; i++) {
    const l = lineOf(i);
    if (!out.write(`${l.sku},${l.name},${l.description},pcs,${l.reorderPoint},MAIN,${l.onHand}\n`)) {
      await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

const run = promisify(execFile);
const cliEnv = () => ({ ...process.env, ...benchServiceEnv(DB_NAME, 'bench-admin-password'), LOG_LEVEL: 'warn' });

/** The CLI's import of `file` on a new, migrated database; seconds. */
async function cliImport(file: string): Promise<number> {
  await freshDatabase(DB_NAME);
  await run(process.execPath, [CLI, 'migrate'], { env: cliEnv() });
  const started = performance.now();
  const { stdout } = await run(process.execPath, ['--max-semi-space-size=32', CLI, 'import:products', file], {
    env: cliEnv(),
    maxBuffer: 64 * 2 ** 20,
  });
  const seconds = (performance.now() - started) / 1000;
  if (!new RegExp(`created:\\s+${LINES}\\b`).test(stdout))
    throw new Error(`import did not create every line:\n${stdout}`);
  return seconds;
}

/** The same rows by hand on a new, migrated database; seconds. */
async function rawImport(): Promise<number> {
  await freshDatabase(DB_NAME);
  await run(process.execPath, [CLI, 'migrate'], { env: cliEnv() });
  const db = await createConnection({ ...server, database: DB_NAME, timezone: 'Z' });
  try {
    const [[{ id: warehouseId }]] = await db.query<RowDataPacket[]>("SELECT id FROM warehouses WHERE code = 'MAIN'");
    const [[{ id: actorId }]] = await db.query<RowDataPacket[]>('SELECT id FROM users ORDER BY id LIMIT 1');
    const started = performance.now();
    for (let first = 0; first < LINES; first += CHUNK) {
      const lines = Array.from({ length: Math.min(CHUNK, LINES - first) }, (_, i) => lineOf(first + i));
      const now = new Date();
      await db.beginTransaction();
      const [inserted] = await db.query<{ insertId: number } & RowDataPacket[]>(
        'INSERT INTO products (sku, sku_key, name, description, unit, reorder_point, version, created_at, updated_at, low) VALUES ?',
        [lines.map((l) => [l.sku, l.sku.toLowerCase(), l.name, l.description, 'pcs', l.reorderPoint, 1, now, now, 0])],
      );
      const ids = lines.map((_, i) => inserted.insertId + i); // one statement: consecutive ids
      const terms = lines.flatMap((l, i) => termsOf(l.sku, l.name).map((term) => [term, ids[i]]));
      for (let i = 0; i < terms.length; i += 1000) {
        await db.query('INSERT INTO product_terms (term, product_id) VALUES ?', [terms.slice(i, i + 1000)]);
      }
      await db.query('INSERT INTO stock_levels (warehouse_id, product_id, on_hand, updated_at) VALUES ?', [
        lines.map((l, i) => [warehouseId, ids[i], l.onHand, now]),
      ]);
      await db.query(
        'INSERT INTO stock_movements (type, product_id, warehouse_id, quantity, balance_after, reason, actor_id, actor_username, created_at) VALUES ?',
        [lines.map((l, i) => ['ADJUST', ids[i], warehouseId, l.onHand, l.onHand, 'COUNT', actorId, 'admin', now])],
      );
      await db.commit();
    }
    return (performance.now() - started) / 1000;
  } finally {
    await db.end();
  }
}

export async function importBench(): Promise<{ lines: number; cli: number; raw: number }> {
  const folder = mkdtempSync(join(tmpdir(), 'bench-import-'));
  try {
    const file = join(folder, 'products.csv');
    await writeFile(file);
    const raw = await rawImport();
    const cli = await cliImport(file);
    return { lines: LINES, cli, raw };
  } finally {
    rmSync(folder, { recursive: true, force: true });
    await dropDatabase(DB_NAME);
  }
}
