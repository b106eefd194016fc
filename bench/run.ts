/**
 * `npm run bench`: POST /api/stock/out through the service (HTTP, real tokens, 64 connections) against
 * a raw mysql2 baseline doing the same transaction at the same concurrency, on one hot SKU and spread
 * over 10,000 SKUs, then the reservation flow (reserve 1, confirm it) on the same SKUs. All run in
 * this process against the same MariaDB/MySQL, so the ratios hold on a noisy machine where absolute
 * figures do not.
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { createPool, Pool, RowDataPacket } from 'mysql2/promise';
import { SERVICE_COMMAND, startServiceProcess, ServiceProcess } from '../test/support/service-process';
import { loginTo } from '../test/support/service-client';
import { importBench } from './import';
import {
  benchServiceEnv,
  CONNECTIONS,
  DURATION_S,
  Figures,
  figuresOf,
  fmt,
  percentile,
  freshDatabase,
  POOL_SIZE,
  seed,
  server,
  service,
  SPREAD_SKUS,
} from './common';

const METRICS_DURATION_S = 6;
const DB_NAME = 'inventory_bench_test';
const EVENTS_DURATION_S = 6;
const AMQP_URL = process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const READS_DURATION_S = 6;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The mean of runs of one scenario (errors summed). */
const mean = (runs: Figures[]): Figures => ({
  ops: runs.reduce((a, r) => a + r.ops, 0) / runs.length,
  p50: runs.reduce((a, r) => a + r.p50, 0) / runs.length,
  p99: runs.reduce((a, r) => a + r.p99, 0) / runs.length,
  errors: runs.reduce((a, r) => a + r.errors, 0),
});

/** The service's per-request transaction, by hand: lock, update level, insert movement, insert audit, commit. */
async function rawBaseline(
  pool: Pool,
  pickProduct: () => number,
  warehouseId: number,
  actorId: number,
): Promise<Figures> {
  const latencies: number[] = [];
  let errors = 0;
  const end = Date.now() + DURATION_S * 1000;
  const worker = async () => {
    while (Date.now() < end) {
      const productId = pickProduct();
      const started = process.hrtime.bigint();
      const conn = await pool.getConnection();
      try {
        await conn.query('START TRANSACTION');
        const [rows] = await conn.query<RowDataPacket[]>(
          'SELECT on_hand FROM stock_levels WHERE warehouse_id = ? AND product_id = ? FOR UPDATE',
          [warehouseId, productId],
        );
        const balance = Number(rows[0].on_hand) - 1;
        const now = new Date();
        await conn.query(
          'UPDATE stock_levels SET on_hand = ?, updated_at = ? WHERE warehouse_id = ? AND product_id = ?',
          [balance, now, warehouseId, productId],
        );
        const [movement] = await conn.query<{ insertId: number } & RowDataPacket[]>(
          "INSERT INTO stock_movements (type, product_id, warehouse_id, quantity, balance_after, actor_id, actor_username, request_id, created_at) VALUES ('OUT', ?, ?, -1, ?, ?, 'bench', 'raw', ?)",
          [productId, warehouseId, balance, actorId, now],
        );
        await conn.query(
          "INSERT INTO audit_logs (at, actor_id, actor_username, actor_role, action, entity_type, entity_id, after, request_id) VALUES (?, ?, 'bench', 'operator', 'stock.out', 'movement', ?, ?, 'raw')",
          [
            now,
            actorId,
            String(movement.insertId),
            JSON.stringify({ movements: [{ id: movement.insertId, quantity: -1, balanceAfter: balance }] }),
          ],
        );
        await conn.query('COMMIT');
        latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
      } catch {
        errors++;
        await conn.query('ROLLBACK').catch(() => undefined);
      } finally {
        conn.release();
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  latencies.sort((a, b) => a - b);
  return { ops: latencies.length / DURATION_S, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors };
}

/**
 * The reservation flow over HTTP: each connection reserves 1 of a product and confirms it (two
 * requests, two stock writes); `ops` counts completed flows (confirms answered 201) per second.
 */
async function reservations(url: string, token: string, pickProduct: () => number): Promise<Figures> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION_S,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    requests: [
      {
        path: '/api/stock/reservations',
        setupRequest: (req) => ({
          ...req,
          body: JSON.stringify({ lines: [{ productId: pickProduct(), quantity: 1 }] }),
        }),
        onResponse: (status, body, context) => {
          if (status === 201) {
            (context as { id?: number }).id = (JSON.parse(body) as { reservation: { id: number } }).reservation.id;
          }
        },
      },
      {
        setupRequest: (req, context) => ({
          ...req,
          path: `/api/stock/reservations/${String((context as { id?: number }).id)}/confirm`,
          body: '',
        }),
      },
    ],
  });
  return figuresOf(result, 2); // a flow is two requests
}

/** Stock writes committed so far and the transactions they took (the service's group-commit histogram). */
async function groupWrites(url: string, token: string): Promise<{ writes: number; transactions: number }> {
  const read = await metricsOf(url, token);
  return {
    writes: read('inventory_stock_group_writes_sum'),
    transactions: read('inventory_stock_group_writes_count'),
  };
}

/** The service's /metrics, as a reader of one series' value (`name` or `name{labels}`; 0 when absent). */
async function metricsOf(url: string, token: string): Promise<(series: string) => number> {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  const values = new Map(
    text
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1))]),
  );
  return (series) => values.get(series) ?? 0;
}

async function main(): Promise<void> {
  await freshDatabase(DB_NAME);
  const password = 'bench-admin-password';
  const serviceEnv = benchServiceEnv(DB_NAME, password);
  let svc: ServiceProcess | undefined;
  const pool = createPool({ ...server, database: DB_NAME, connectionLimit: POOL_SIZE, timezone: 'Z' });
  try {
    svc = await startServiceProcess(serviceEnv);
    const { warehouseId, actorId } = await seed(pool);
    const accessToken = await loginTo(svc.url, { username: 'admin', password });
    const hot = () => 1;
    const spread = () => 1 + Math.floor(Math.random() * SPREAD_SKUS);

    const only = process.env.BENCH_ONLY; // e.g. BENCH_ONLY=events runs that scenario alone
    if (!only || only === 'start') {
      const start = await coldStarts();
      console.log(
        `\ncold start to /health/ready 200, first run on a new SQLite file (migrations, admin created), 3 runs`,
      );
      console.log(
        `  service                 median ${start.service.toFixed(0)} ms  (runs ${start.runs.map((r) => r.toFixed(0)).join(', ')})  (target ≤ 1500)`,
      );
      console.log(`  bare Fastify process    median ${start.bare.toFixed(0)} ms  (the floor on this machine)`);
    }
    if (!only || only === 'import') {
      const imported = await importBench();
      console.log(`\nimport:products, ${imported.lines} new products with opening stock (MariaDB, the CLI)`);
      console.log(
        `  CLI import              ${imported.cli.toFixed(1)} s  (${(imported.lines / imported.cli).toFixed(0)} lines/s; target well under 60 s)`,
      );
      console.log(
        `  same rows by hand       ${imported.raw.toFixed(1)} s  (products, search terms, levels, movements; no audit, events, checks)`,
      );
      console.log(`  CLI ÷ by hand (time)    ${(imported.cli / imported.raw).toFixed(2)}`);
    }
    const rssIdle = rssOf(svc.child.pid!);
    if (!only) {
      const rows: [string, Figures, Figures, number, Figures, number][] = [];
      let rssPeak = rssIdle;
      /** Writes per transaction over what `run` did (the service's group-commit histogram). */
      const perTransaction = async (run: () => Promise<Figures>): Promise<[Figures, number]> => {
        const before = await groupWrites(svc!.url, accessToken);
        const figures = await run();
        const after = await groupWrites(svc!.url, accessToken);
        return [figures, (after.writes - before.writes) / (after.transactions - before.transactions)];
      };
      for (const [name, pick] of [
        ['hot SKU', hot],
        [`${SPREAD_SKUS} SKUs`, spread],
      ] as const) {
        const raw = await rawBaseline(pool, pick, warehouseId, actorId);
        const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssOf(svc!.child.pid!))), 200);
        const [http, grouped] = await perTransaction(() => service(svc!.url, accessToken, pick)).finally(() =>
          clearInterval(sampler),
        );
        const [held, heldGrouped] = await perTransaction(() => reservations(svc!.url, accessToken, pick));
        rows.push([name, raw, http, grouped, held, heldGrouped]);
      }
      console.log(`\nPOST /api/stock/out, ${CONNECTIONS} connections, ${DURATION_S} s each, pool ${POOL_SIZE}`);
      for (const [name, raw, http, grouped, held, heldGrouped] of rows) {
        console.log(`\n${name}`);
        console.log(`  raw mysql2 transaction  ${fmt(raw)}`);
        console.log(`  service over HTTP       ${fmt(http)}  (${grouped.toFixed(1)} writes per transaction)`);
        console.log(`  service ÷ raw           ${(http.ops / raw.ops).toFixed(2)}`);
        console.log(
          `  reserve + confirm       ${fmt(held)}  (flows; ${heldGrouped.toFixed(1)} writes per transaction)`,
        );
        console.log(`  flows ÷ plain out       ${(held.ops / http.ops).toFixed(2)}  (a flow is two stock writes)`);
      }
      console.log(
        `\nservice memory (RSS): ${(rssIdle / 2 ** 20).toFixed(0)} MB idle after start, ${(rssPeak / 2 ** 20).toFixed(0)} MB at most under the stock-out load (target ≤ 250)`,
      );
      // what the per-request HTTP metrics cost: the hot path with them on and off, interleaved (on, off,
      // on, off) after a warm-up of the fresh process, so neither side gets the warmer machine
      const withoutMetrics = await startServiceProcess({ ...serviceEnv, METRICS_ENABLED: 'false' });
      const rounds: Record<'on' | 'off', Figures[]> = { on: [], off: [] };
      try {
        await service(withoutMetrics.url, accessToken, hot, 3);
        for (let round = 0; round < 2; round++) {
          rounds.on.push(await service(svc.url, accessToken, hot, METRICS_DURATION_S));
          rounds.off.push(await service(withoutMetrics.url, accessToken, hot, METRICS_DURATION_S));
        }
      } finally {
        await withoutMetrics.stop();
      }
      const [on, off] = [mean(rounds.on), mean(rounds.off)];
      console.log(`\nmetrics cost, hot SKU, 2 × ${METRICS_DURATION_S} s each, interleaved`);
      console.log(`  metrics on              ${fmt(on)}`);
      console.log(`  metrics off             ${fmt(off)}`);
      console.log(`  on ÷ off                ${(on.ops / off.ops).toFixed(2)}  (target ≥ 0.95)`);
    }
    if (!only || only === 'tracing') {
      const tracing = await tracingCost(serviceEnv, svc, accessToken, hot);
      console.log(
        `\ntracing cost, hot SKU, 2 × ${METRICS_DURATION_S} s each, interleaved (OTLP/HTTP to a sink in this process)`,
      );
      console.log(`  tracing off             ${fmt(tracing.off)}`);
      console.log(`  every request traced    ${fmt(tracing.all)}  (${tracing.spans} spans received)`);
      console.log(`  1 in 10 traced          ${fmt(tracing.tenth)}`);
      console.log(`  all ÷ off               ${(tracing.all.ops / tracing.off.ops).toFixed(2)}`);
      console.log(`  1 in 10 ÷ off           ${(tracing.tenth.ops / tracing.off.ops).toFixed(2)}`);
    }
    if (!only || only === 'events') {
      const events = await eventsAttached(serviceEnv, accessToken, hot, pool);
      console.log(`\nevents attached, hot SKU, 2 × ${EVENTS_DURATION_S} s each, interleaved, one side at a time`);
      console.log(`  without                         ${fmt(events.without.figures)}`);
      const sent = (side: EventsSide) =>
        `(${side.delivered} webhook deliveries answered, ${side.published} events published)`;
      console.log(
        `  ${`${events.attached}, sent by it`.padEnd(30)}  ${fmt(events.with.figures)}  ${sent(events.with)}`,
      );
      console.log(
        `  ${`${events.attached}, by a 2nd`.padEnd(30)}  ${fmt(events.dedicated.figures)}  ${sent(events.dedicated)}  (EVENTS_DISPATCH=false; a dedicated events instance sends)`,
      );
      const ratio = (side: EventsSide) => (side.figures.ops / events.without.figures.ops).toFixed(2);
      console.log(
        `  with ÷ without                  ${ratio(events.with)} sent by the loaded instance, ${ratio(events.dedicated)} by a dedicated one  (target ≥ 0.9)`,
      );
    }
    if (!only || only === 'cache') {
      const cache = await readCache(serviceEnv, svc, accessToken, spread, pool);
      const ratio = (side: { without: Figures; with: Figures }) => (side.with.ops / side.without.ops).toFixed(2);
      console.log(
        `\nRedis read cache (CACHE_REDIS_URL), GET, 64 connections, 2 × ${READS_DURATION_S} s each side, interleaved, 10,000 SKUs`,
      );
      console.log(`  GET /api/products/:id, without     ${fmt(cache.product.without)}`);
      console.log(`  GET /api/products/:id, with        ${fmt(cache.product.with)}`);
      console.log(`  GET /api/stock?productId=, without ${fmt(cache.levels.without)}`);
      console.log(`  GET /api/stock?productId=, with    ${fmt(cache.levels.with)}`);
      console.log(`  GET /api/auth/me (reads nothing)   ${fmt(cache.none)}  (every cost but the database's)`);
      console.log(
        `  with ÷ without                     products ${ratio(cache.product)}, levels ${ratio(cache.levels)}  (${(cache.hitRatio * 100).toFixed(1)} % hits; keep it only if ≥ 1.3)`,
      );
      console.log(
        `  a free cache's ceiling             products ${(cache.none.ops / cache.product.without.ops).toFixed(2)}×, levels ${(cache.none.ops / cache.levels.without.ops).toFixed(2)}×`,
      );
      console.log(`  hot stock-out, without             ${fmt(cache.writes.without)}`);
      console.log(
        `  hot stock-out, with                ${fmt(cache.writes.with)}  (with ÷ without ${ratio(cache.writes)}: each write marks and ends its products)`,
      );
      console.log(
        `  one lookup, sequential             MariaDB by primary key p50 ${cache.sqlUs.toFixed(0)} µs, Redis GET p50 ${cache.redisUs.toFixed(0)} µs`,
      );
    }
    const reconcile = await fetch(`${svc.url}/api/stock/reconcile`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    const { checkedLevels, mismatches } = (await reconcile.json()) as { checkedLevels: number; mismatches: unknown[] };
    console.log(`\nreconcile after the run: ${checkedLevels} levels checked, ${mismatches.length} mismatches`);
  } finally {
    await svc?.stop();
    await pool.end();
  }
}

/** A process's resident memory in bytes (Linux). */
function rssOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb ?? 0) * 1024;
}

/** Milliseconds from spawning `args` until GET `url` answers 200 (polled every 10 ms); the process is then stopped. */
async function timeToReady(args: string[], env: Record<string, string>, url: string): Promise<number> {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: 'ignore' });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
      const ok = await fetch(url).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return Number(process.hrtime.bigint() - started) / 1e6;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

/**
 * Cold starts of the built service on SQLite, each on a new database file — the first run a new user
 * sees: migrations, the admin's password hashed — beside a bare Fastify process answering one route
 * (what Node and the machine cost before any of the service).
 */
async function coldStarts(): Promise<{ service: number; bare: number; runs: number[] }> {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const port = 3000 + Math.floor(Math.random() * 20000);
  const runs: number[] = [];
  const bare: number[] = [];
  const bareServer = `require('fastify')().get('/ready', async () => 'ok').listen({ port: ${port}, host: '127.0.0.1' })`;
  for (let i = 0; i < 3; i++) {
    const folder = mkdtempSync(join(tmpdir(), 'inventory-start-'));
    try {
      runs.push(
        await timeToReady(
          SERVICE_COMMAND,
          {
            DB_TYPE: 'sqlite',
            DB_PATH: join(folder, 'inventory.sqlite'),
            PORT: String(port),
            LOG_FORMAT: 'json',
            NODE_ENV: 'development',
          },
          `http://127.0.0.1:${port}/health/ready`,
        ),
      );
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
    bare.push(await timeToReady(['-e', bareServer], {}, `http://127.0.0.1:${port}/ready`));
  }
  return { service: median(runs), bare: median(bare), runs };
}

/**
 * What tracing costs: the hot path on the untraced service beside two traced ones — every request traced,
 * and one in ten (OTEL_TRACES_SAMPLER=parentbased_traceidratio) — exporting over OTLP/HTTP to a collector
 * in this process that reads each batch and answers 200. Interleaved after a warm-up of each.
 */
async function tracingCost(
  env: Record<string, string>,
  untraced: ServiceProcess,
  token: string,
  pick: () => number,
): Promise<{ off: Figures; all: Figures; tenth: Figures; spans: number }> {
  let spans = 0;
  const collector = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      spans += body.split('"spanId"').length - 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  const all = await startServiceProcess({ ...env, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint });
  const tenth = await startServiceProcess({
    ...env,
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '0.1',
  });
  const runs: Record<'off' | 'all' | 'tenth', Figures[]> = { off: [], all: [], tenth: [] };
  try {
    await service(untraced.url, token, pick, 3); // each side warmed up alike
    await service(all.url, token, pick, 3);
    await service(tenth.url, token, pick, 3);
    for (let round = 0; round < 2; round++) {
      runs.off.push(await service(untraced.url, token, pick, METRICS_DURATION_S));
      runs.all.push(await service(all.url, token, pick, METRICS_DURATION_S));
      runs.tenth.push(await service(tenth.url, token, pick, METRICS_DURATION_S));
    }
  } finally {
    await all.stop();
    await tenth.stop();
    collector.close();
  }
  return { off: mean(runs.off), all: mean(runs.all), tenth: mean(runs.tenth), spans };
}

/** Throughput of one side of the events bench, and what went out meanwhile. */
interface EventsSide {
  figures: Figures;
  delivered: number;
  published: number;
}

/**
 * Stock-out throughput with events going out — a webhook for every event (a receiver in this process that
 * answers at once) and RabbitMQ publishing (EVENTS_AMQP_URL) — beside the same without them. Two ways
 * with: the one instance under load sends them itself (every instance does by default), or it leaves
 * them (EVENTS_DISPATCH=false) to a second, dedicated events instance that serves no requests. The
 * sides run as separate processes, one side at a time, interleaved (without, with, dedicated, twice),
 * each after a short warm-up. Each side with events starts from a clean slate — a new webhook (deleted,
 * with its deliveries, afterwards) and the broker cursor at the newest event — so it pays for the events
 * of its own writes, not for a backlog another side left. BENCH_EVENTS=webhook or amqp attaches one
 * destination only.
 */
async function eventsAttached(
  env: Record<string, string>,
  token: string,
  pick: () => number,
  pool: Pool,
): Promise<{ without: EventsSide; with: EventsSide; dedicated: EventsSide; attached: string }> {
  let delivered = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      delivered++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverHost = `127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const mode = process.env.BENCH_EVENTS ?? 'both';
  const withEvents = {
    ...env,
    ...(mode !== 'webhook' ? { EVENTS_AMQP_URL: AMQP_URL } : {}),
    WEBHOOK_ALLOWED_HOSTS: receiverHost,
  };
  const call = async (url: string, method: string, path: string, body?: object) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: body && JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? {} : ((await res.json()) as Record<string, unknown>);
  };
  const published = async (url: string) => {
    const metrics = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    return Number(/^inventory_events_published_total (\S+)$/m.exec(metrics)?.[1] ?? 0);
  };
  const sides = ['without', 'with', 'dedicated'] as const;
  const envOf = { without: env, with: withEvents, dedicated: { ...withEvents, EVENTS_DISPATCH: 'false' } };
  const runs = Object.fromEntries(sides.map((side) => [side, [] as EventsSide[]])) as Record<
    (typeof sides)[number],
    EventsSide[]
  >;
  try {
    for (let round = 0; round < 2; round++) {
      for (const side of sides) {
        if (side !== 'without') {
          // the broker side starts at the newest event (nobody publishes while another side runs)
          await pool.query(
            "UPDATE outbox_cursors SET position = (SELECT COALESCE(MAX(position), 0) FROM events), lease_owner = NULL WHERE name = 'amqp'",
          );
        }
        const svc = await startServiceProcess(envOf[side]);
        const sender = side === 'dedicated' ? await startServiceProcess(withEvents).catch(stopFirst(svc)) : svc;
        let webhookId: number | undefined;
        try {
          if (side !== 'without' && mode !== 'amqp') {
            const created = await call(svc.url, 'POST', '/api/webhooks', {
              url: `http://${receiverHost}/hook`,
              events: ['*'],
            });
            webhookId = (created.webhook as { id: number }).id;
          }
          await service(svc.url, token, pick, 2); // warm-up
          const deliveredBefore = delivered;
          const publishedBefore = side === 'without' ? 0 : await published(sender.url);
          const figures = await service(svc.url, token, pick, EVENTS_DURATION_S);
          runs[side].push({
            figures,
            delivered: delivered - deliveredBefore,
            published: side === 'without' ? 0 : (await published(sender.url)) - publishedBefore,
          });
          if (webhookId !== undefined) await call(svc.url, 'DELETE', `/api/webhooks/${webhookId}`);
        } finally {
          if (sender !== svc) await sender.stop();
          await svc.stop();
        }
      }
    }
  } finally {
    receiver.close();
  }
  const attached = { both: 'webhook + RabbitMQ', webhook: 'webhook only', amqp: 'RabbitMQ only' }[mode] ?? mode;
  const sum = (list: EventsSide[]): EventsSide => ({
    figures: mean(list.map((r) => r.figures)),
    delivered: list.reduce((n, r) => n + r.delivered, 0),
    published: list.reduce((n, r) => n + r.published, 0),
  });
  return { without: sum(runs.without), with: sum(runs.with), dedicated: sum(runs.dedicated), attached };
}

/** For a failed start of a second process: stops the first, then fails as the start did. */
const stopFirst =
  (first: ServiceProcess) =>
  async (error: unknown): Promise<never> => {
    await first.stop();
    throw error;
  };

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

/** autocannon GETs of `path()` with a bearer token. */
async function getLoad(
  url: string,
  token: string,
  path: () => string,
  duration: number,
  amount?: number,
): Promise<Figures> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    ...(amount ? { amount } : { duration }),
    headers: { authorization: `Bearer ${token}` },
    requests: [{ setupRequest: (req) => ({ ...req, path: path() }) }],
  });
  return figuresOf(result);
}

/**
 * The Redis read cache (CACHE_REDIS_URL) measured: product and level reads over the 10,000 SKUs on the
 * service without it and on a second process with it, interleaved (without, with, twice), the cached side
 * after one pass over every SKU (so its reads are hits, as in a steady state); beside them an
 * authenticated route that reads nothing (the token's user is cached in the process) — the same HTTP,
 * auth, logging and serialization with the database's part at zero, a free cache's ceiling. Then what the
 * cache costs writes (each marks and ends its products in Redis): the hot stock-out on both, interleaved.
 * And what one lookup costs in MariaDB by primary key and in Redis, sequentially on this machine.
 */
async function readCache(
  env: Record<string, string>,
  uncached: ServiceProcess,
  token: string,
  pick: () => number,
  pool: Pool,
) {
  const cached = await startServiceProcess({ ...env, CACHE_REDIS_URL: REDIS_URL });
  const redis = new Redis(REDIS_URL);
  try {
    const routes = { product: () => `/api/products/${pick()}`, levels: () => `/api/stock?productId=${pick()}` };
    const runs: Record<'product' | 'levels', Record<'without' | 'with', Figures[]>> = {
      product: { without: [], with: [] },
      levels: { without: [], with: [] },
    };
    let id = 0;
    const everySku = () => `/api/products/${(id++ % SPREAD_SKUS) + 1}`;
    await getLoad(uncached.url, token, routes.product, 2); // warm-up
    await getLoad(cached.url, token, everySku, 0, SPREAD_SKUS);
    id = 0;
    await getLoad(cached.url, token, () => `/api/stock?productId=${(id++ % SPREAD_SKUS) + 1}`, 0, SPREAD_SKUS);
    const before = await cacheCounts(cached.url, token);
    for (let round = 0; round < 2; round++) {
      for (const route of ['product', 'levels'] as const) {
        runs[route].without.push(await getLoad(uncached.url, token, routes[route], READS_DURATION_S));
        runs[route].with.push(await getLoad(cached.url, token, routes[route], READS_DURATION_S));
      }
    }
    const after = await cacheCounts(cached.url, token);
    const none = await getLoad(uncached.url, token, () => '/api/auth/me', READS_DURATION_S);
    const hot = () => 1;
    const writes: Record<'without' | 'with', Figures[]> = { without: [], with: [] };
    await service(cached.url, token, hot, 3);
    for (let round = 0; round < 2; round++) {
      writes.without.push(await service(uncached.url, token, hot, METRICS_DURATION_S));
      writes.with.push(await service(cached.url, token, hot, METRICS_DURATION_S));
    }
    const value = JSON.stringify({ id: 1, sku: 'SKU-1', name: 'A product', stock: [{ warehouse: 'MAIN', onHand: 5 }] });
    await redis.set('bench:cache:probe', value);
    const time = async (lookup: () => Promise<unknown>) => {
      const samples: number[] = [];
      for (let i = 0; i < 3000; i++) {
        const started = process.hrtime.bigint();
        await lookup();
        samples.push(Number(process.hrtime.bigint() - started) / 1000);
      }
      return percentile(
        samples.slice(500).sort((a, b) => a - b),
        50,
      ); // the first 500 warm up
    };
    const sqlUs = await time(() => pool.query('SELECT * FROM products WHERE id = ?', [pick()]));
    const redisUs = await time(() => redis.get('bench:cache:probe'));
    await redis.del('bench:cache:probe');
    const lookups = after.hit + after.miss - before.hit - before.miss;
    return {
      product: { without: mean(runs.product.without), with: mean(runs.product.with) },
      levels: { without: mean(runs.levels.without), with: mean(runs.levels.with) },
      none,
      writes: { without: mean(writes.without), with: mean(writes.with) },
      hitRatio: lookups ? (after.hit - before.hit) / lookups : 0,
      sqlUs,
      redisUs,
    };
  } finally {
    redis.disconnect();
    await cached.stop();
  }
}

/** The read cache's hit and miss counters of the service at `url`. */
async function cacheCounts(url: string, token: string): Promise<{ hit: number; miss: number }> {
  const read = await metricsOf(url, token);
  const counter = 'inventory_read_cache_requests_total';
  return { hit: read(`${counter}{result="hit"}`), miss: read(`${counter}{result="miss"}`) };
}
