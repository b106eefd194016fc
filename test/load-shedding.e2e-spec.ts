/**
 * MAX_IN_FLIGHT under overload: far more connections than the cap against one service process, from
 * clients that honour Retry-After. Every answer is a 201 or a 503 refused at once, the ledger
 * reconciles, probes and /metrics keep answering — and the same load without the cap is slower
 * (printed, not asserted: a time is never a test's verdict).
 *
 * On SQLite the driver is synchronous: a request runs from its first hook to its answer without
 * yielding, so requests never pile up inside the process (the backlog waits in the kernel's accept
 * queue) and nothing is shed; the rest holds there too.
 */
import { loginTo } from './support/service-client';
import { ADMIN, serviceEnv } from './support/service-env';
import { ServiceProcess, startServiceProcess } from './support/service-process';
import { createTestDatabase, TestDatabase, testDbType } from './support/test-database';

const CONNECTIONS = 200;
const LOAD_MS = 3000;
const CAP = 16;

interface Answer {
  status: number;
  ms: number;
  code?: string;
  retryAfter: string | null;
}

/** The smallest histogram bucket bound under which `p` % of a route's answers with `status` fall (server-side time). */
function serverQuantile(metrics: string, status: number, p: number): number {
  const pattern = new RegExp(
    `^http_request_duration_seconds_bucket\\{le="([^"]+)",method="POST",route="/api/stock/in",status_code="${status}"\\} (\\d+)$`,
    'gm',
  );
  const buckets = [...metrics.matchAll(pattern)].map((m) => ({
    le: m[1] === '+Inf' ? Infinity : Number(m[1]),
    count: Number(m[2]),
  }));
  const total = buckets.find((b) => b.le === Infinity)!.count;
  return buckets.find((b) => b.count >= (p / 100) * total)!.le;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

describe('load shedding (MAX_IN_FLIGHT)', () => {
  let database: TestDatabase;
  let service: ServiceProcess | undefined;
  let token: string;

  const start = async (maxInFlight: number) => {
    await service?.stop();
    service = await startServiceProcess(serviceEnv(database, { MAX_IN_FLIGHT: String(maxInFlight) }));
    token = await loginTo(service.url, ADMIN);
  };
  const call = async (method: string, path: string, body?: object) => {
    const res = await fetch(`${service!.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body && JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };

  /** CONNECTIONS clients posting stock-in for LOAD_MS, each honouring Retry-After; every answer with its time. */
  const overload = async (): Promise<Answer[]> => {
    const answers: Answer[] = [];
    const end = Date.now() + LOAD_MS;
    const client = async () => {
      while (Date.now() < end) {
        const started = performance.now();
        const res = await call('POST', '/api/stock/in', { sku: 'LOAD-1', quantity: 1 });
        const code = res.status >= 400 ? (JSON.parse(res.text) as { code: string }).code : undefined;
        const retryAfter = res.headers.get('retry-after');
        answers.push({ status: res.status, ms: performance.now() - started, code, retryAfter });
        // as a well-behaved client does: wait what Retry-After says, jittered so the refused do not return together
        if (res.status === 503) await sleep(Number(retryAfter) * 1000 * (0.5 + Math.random()));
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, client));
    return answers;
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    await start(CAP);
    expect((await call('POST', '/api/products', { sku: 'LOAD-1', name: 'Under load' })).status).toBe(201);
  });
  afterAll(async () => {
    await service?.stop();
    await database?.drop();
  });

  /** "201 × n (p50, p99)": what the clients saw. */
  const summary = (answers: Answer[]) => {
    const ms = answers.map((a) => a.ms);
    if (!ms.length) return '0';
    return `${answers.length} (p50 ${percentile(ms, 50).toFixed(1)} ms, p99 ${percentile(ms, 99).toFixed(1)} ms)`;
  };
  let capped = '';

  it('answers every request 201 or a 503 refused at once, keeps probes and /metrics up, and the ledger reconciles', async () => {
    const probes: number[] = [];
    const probing = (async () => {
      const end = Date.now() + LOAD_MS;
      while (Date.now() < end) {
        probes.push((await fetch(`${service!.url}/health/ready`)).status);
        probes.push((await call('GET', '/metrics')).status);
      }
    })();
    const answers = await overload();
    await probing;

    const created = answers.filter((a) => a.status === 201);
    const shed = answers.filter((a) => a.status === 503);
    expect(answers.filter((a) => a.status !== 201 && a.status !== 503).map((a) => a.status)).toEqual([]);
    expect(created.length).toBeGreaterThan(0);
    expect(new Set(shed.map((a) => `${a.code} ${a.retryAfter}`))).toEqual(
      new Set(shed.length ? ['SERVICE_UNAVAILABLE 1'] : []),
    );
    expect(probes.length).toBeGreaterThan(0);
    expect(probes.filter((status) => status !== 200)).toEqual([]);

    const metrics = (await call('GET', '/metrics')).text;
    expect(metrics).toMatch(new RegExp(`^inventory_http_shed_total ${shed.length}$`, 'm'));
    expect(metrics).toMatch(/^inventory_http_in_flight \d+$/m);
    if (testDbType() === 'mysql') {
      // requests wait for the database inside the process, so the cap refuses some: at once, as the
      // service measures it, even the slowest refusals take less than a typical write
      expect(shed.length).toBeGreaterThan(0);
      expect(serverQuantile(metrics, 503, 99)).toBeLessThan(serverQuantile(metrics, 201, 50));
    }
    const reconcile = JSON.parse((await call('GET', '/api/stock/reconcile')).text) as { mismatches: unknown[] };
    expect(reconcile.mismatches).toEqual([]);
    const level = JSON.parse((await call('GET', '/api/stock?sku=LOAD-1')).text) as { items: { onHand: number }[] };
    expect(level.items[0].onHand).toBe(created.length); // every 201 moved stock; no 503 did
    capped = `MAX_IN_FLIGHT=${CAP}: 201 × ${summary(created)}, 503 × ${summary(shed)}`;
    process.stdout.write(`${capped}\n`);
  });

  it('without the cap, serves the same load with every request queued (printed beside the capped run)', async () => {
    await start(0);
    const before = JSON.parse((await call('GET', '/api/stock?sku=LOAD-1')).text) as { items: { onHand: number }[] };
    const answers = await overload();
    expect(answers.filter((a) => a.status !== 201).map((a) => a.status)).toEqual([]);
    const after = JSON.parse((await call('GET', '/api/stock?sku=LOAD-1')).text) as { items: { onHand: number }[] };
    expect(after.items[0].onHand - before.items[0].onHand).toBe(answers.length);
    process.stdout.write(`MAX_IN_FLIGHT=0: 201 × ${summary(answers)}; ${capped}\n`);
  });
});
