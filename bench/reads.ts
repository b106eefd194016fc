/**
 * `npm run bench:reads`: `GET /api/products` at 10,000 and at 1,000,000 products on MariaDB — the first
 * page, a deep cursor page, search (a rare word, a common one, a word prefix, two words, no match, a SKU
 * prefix), `sku=`, and `lowStock=true` with few and with many products low — p50/p99 of sequential
 * requests through the service over HTTP, and p50(1M) ÷ p50(10k) for each. The catalogues are made with
 * SQL (MariaDB's sequence tables), not HTTP: names of three words — one of 10 common ones (each in a
 * tenth of the products), one of 1,000 (each in a thousandth), one nearly unique — with the search
 * index rows the service would have written (common/search-terms.ts), one stock level each. READS_SIZES
 * overrides the sizes (e.g. `10000,100000`).
 */
import 'reflect-metadata'; // pagination.ts declares the page schemas with decorators
import { createConnection } from 'mysql2/promise';
import { encodeCursor } from '../src/common/http/pagination';
import { loginTo } from '../test/support/service-client';
import { startServiceProcess } from '../test/support/service-process';
import { TERM_PREFIX_MAX } from '../src/common/search-terms';
import { benchServiceEnv, freshDatabase, percentile, server } from './common';

const SIZES = (process.env.READS_SIZES ?? '10000,1000000').split(',').map(Number);
const REQUESTS = Number(process.env.READS_REQUESTS ?? 200);
const WARMUP = 20;
const COMMON = ['steel', 'bolt', 'cable', 'panel', 'valve', 'screw', 'frame', 'motor', 'clamp', 'brush'];
const password = 'reads-admin-password';

interface Query {
  name: string;
  query: (size: number) => Record<string, string>;
}

const QUERIES: Query[] = [
  { name: 'first page', query: () => ({}) },
  { name: 'deep cursor page', query: (size) => ({ cursor: encodeCursor(Math.floor(size * 0.9)) }) },
  { name: 'search rare word', query: (size) => ({ search: rareWord(Math.floor(size / 2)) }) },
  { name: 'search common word', query: () => ({ search: 'steel' }) },
  { name: 'search word prefix', query: () => ({ search: 'val' }) },
  { name: 'search two words', query: () => ({ search: 'steel m17' }) },
  { name: 'search no match', query: () => ({ search: 'zzqxj' }) },
  { name: 'search SKU prefix', query: (size) => ({ search: `sku-${pad(Math.floor(size / 2)).slice(0, 5)}` }) },
  { name: 'sku=', query: (size) => ({ sku: `SKU-${pad(Math.floor(size / 3))}` }) },
  { name: 'lowStock, few low', query: () => ({ lowStock: 'true' }) },
  { name: 'lowStock, many low', query: () => ({ lowStock: 'true' }) },
];

const pad = (n: number) => String(n).padStart(7, '0');
/** The nearly unique third word of product n: "r" and n in base 36. */
const rareWord = (n: number) => `r${n.toString(36)}`;

/** A catalogue of `size` products, its search terms and levels, written by SQL in MariaDB itself. */
async function seedCatalogue(database: string, size: number): Promise<void> {
  const db = await createConnection({ ...server, database, multipleStatements: true });
  const started = Date.now();
  try {
    const [[{ id: warehouseId }]] = (await db.query("SELECT id FROM warehouses WHERE code = 'MAIN'")) as unknown as [
      { id: number }[],
    ];
    await db.query('CREATE TEMPORARY TABLE common_words (idx int PRIMARY KEY, word varchar(16))');
    await db.query(`INSERT INTO common_words VALUES ${COMMON.map((w, i) => `(${i}, ${db.escape(w)})`).join(', ')}`);
    // name: <common word> m<n % 1000> r<n in base 36>; reorder point 5, on hand 10 — but one in 2,000 has 0 (low)
    await db.query(
      `INSERT INTO products (id, sku, sku_key, name, description, unit, reorder_point, version, created_at, updated_at, archived_at, low)
       SELECT s.seq, CONCAT('SKU-', LPAD(s.seq, 7, '0')), CONCAT('sku-', LPAD(s.seq, 7, '0')),
              CONCAT(c.word, ' m', s.seq % 1000, ' r', LOWER(CONV(s.seq, 10, 36))), NULL, 'pcs', 5, 1, NOW(3), NOW(3), NULL,
              s.seq % 2000 = 0
       FROM seq_1_to_${size} s JOIN common_words c ON c.idx = s.seq % 10`,
    );
    await db.query(
      `INSERT INTO stock_levels (warehouse_id, product_id, on_hand, reserved, updated_at)
       SELECT ?, id, IF(low, 0, 10), 0, NOW(3) FROM products`,
      [warehouseId],
    );
    // the terms the service writes (common/search-terms.ts): every prefix (≤ 32) of the SKU and of each
    // name word; these words are [a-z0-9] only, the SKU's "-" is escaped as "~2d."
    for (const word of [
      `SUBSTRING_INDEX(name, ' ', 1)`,
      `SUBSTRING_INDEX(SUBSTRING_INDEX(name, ' ', 2), ' ', -1)`,
      `SUBSTRING_INDEX(name, ' ', -1)`,
    ]) {
      await db.query(
        `INSERT IGNORE INTO product_terms (term, product_id)
         SELECT CONCAT('n/', LEFT(w.word, k.seq)), w.id
         FROM (SELECT id, ${word} AS word FROM products) w JOIN seq_1_to_${TERM_PREFIX_MAX} k ON k.seq <= CHAR_LENGTH(w.word)`,
      );
    }
    await db.query(
      `INSERT IGNORE INTO product_terms (term, product_id)
       SELECT CONCAT('s/', REPLACE(LEFT(sku_key, k.seq), '-', '~2d.')), id
       FROM products JOIN seq_1_to_${TERM_PREFIX_MAX} k ON k.seq <= CHAR_LENGTH(sku_key)`,
    );
    await db.query('ANALYZE TABLE products, product_terms, stock_levels');
  } finally {
    await db.end();
  }
  console.log(`  seeded ${size.toLocaleString('en')} products in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

async function measure(
  url: string,
  token: string,
  query: Record<string, string>,
): Promise<{ p50: number; p99: number; items: number }> {
  const target = `${url}/api/products?${new URLSearchParams(query)}`;
  const get = async () => {
    const res = await fetch(target, { headers: { authorization: `Bearer ${token}` } });
    if (res.status !== 200) throw new Error(`${target}: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { items: unknown[] }).items.length;
  };
  for (let i = 0; i < WARMUP; i++) await get();
  const times: number[] = [];
  let items = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const started = process.hrtime.bigint();
    items = await get();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), items };
}

async function main(): Promise<void> {
  const results = new Map<number, Map<string, { p50: number; p99: number; items: number }>>();
  for (const size of SIZES) {
    const database = `inventory_reads_${size}_test`;
    await freshDatabase(database);
    const env = benchServiceEnv(database, password);
    console.log(`\n${size.toLocaleString('en')} products`);
    let svc = await startServiceProcess(env); // creates the schema
    await svc.stop();
    await seedCatalogue(database, size);
    svc = await startServiceProcess(env);
    try {
      const token = await loginTo(svc.url, { username: 'admin', password });
      const figures = new Map<string, { p50: number; p99: number; items: number }>();
      for (const q of QUERIES) {
        if (q.name === 'lowStock, many low') {
          const db = await createConnection({ ...server, database });
          await db.query('UPDATE products SET low = (id % 2 = 0)'); // half the catalogue low
          await db.end();
        }
        figures.set(q.name, await measure(svc.url, token, q.query(size)));
      }
      results.set(size, figures);
    } finally {
      await svc.stop();
    }
  }
  const [small, large] = SIZES;
  console.log(`\nGET /api/products (limit 50), ${REQUESTS} sequential requests each, ms`);
  console.log(
    `${'query'.padEnd(20)} ${SIZES.map((s) => `${s.toLocaleString('en')}: p50 / p99 (items)`.padStart(30)).join(' ')}   p50 ratio`,
  );
  for (const q of QUERIES) {
    const cells = SIZES.map((s) => {
      const f = results.get(s)!.get(q.name)!;
      return `${f.p50.toFixed(1)} / ${f.p99.toFixed(1)} (${f.items})`.padStart(30);
    });
    const ratio = large ? results.get(large)!.get(q.name)!.p50 / results.get(small)!.get(q.name)!.p50 : NaN;
    console.log(`${q.name.padEnd(20)} ${cells.join(' ')}   ${ratio.toFixed(2)}`);
  }
  console.log('\ngoals at 1M: every p99 ≤ 20 ms, p50(1M) ÷ p50(10k) ≤ 1.3');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
