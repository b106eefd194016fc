import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { ADMIN, serviceEnv } from './support/service-env';
import { ServiceProcess, startServiceProcess } from './support/service-process';
import { loginTo } from './support/service-client';
import { createTestDatabase, TestDatabase, testDbType } from './support/test-database';
import { waitFor } from './support/wait';

/** One span as OTLP/JSON carries it (the fields these tests read). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
  links?: { traceId: string; spanId: string }[];
}
interface OtlpExport {
  resourceSpans: {
    resource: { attributes: { key: string; value: Record<string, unknown> }[] };
    scopeSpans: { spans: OtlpSpan[] }[];
  }[];
}

const SERVER = 2;
const CLIENT = 3;

/** An attribute's value, whatever its OTLP type (stringValue, intValue as a string, doubleValue…). */
function attr(span: OtlpSpan, key: string): unknown {
  const value = span.attributes.find((a) => a.key === key)?.value;
  if (!value) return undefined;
  const [kind, raw] = Object.entries(value)[0];
  return kind === 'intValue' || kind === 'doubleValue' ? Number(raw) : raw;
}

/**
 * A collector nobody here wrote the other half of: it receives what the OpenTelemetry exporter sends
 * over OTLP/HTTP (JSON) to `<endpoint>/v1/traces`, and keeps the spans and the resources.
 */
async function startCollector() {
  const spans: OtlpSpan[] = [];
  const services = new Set<unknown>();
  const paths = new Set<string>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      paths.add(`${req.method} ${req.url} ${req.headers['content-type']}`);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport;
      for (const resourceSpans of body.resourceSpans) {
        services.add(resourceSpans.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue);
        for (const scope of resourceSpans.scopeSpans) spans.push(...scope.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    services,
    paths,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('tracing (OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  let database: TestDatabase;
  let service: ServiceProcess;
  let collector: Awaited<ReturnType<typeof startCollector>>;
  let token: string;

  const send = (method: string, path: string, body?: object, headers: Record<string, string> = {}) =>
    fetch(`${service.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers },
      body: body && JSON.stringify(body),
    });
  const trace = (traceId: string) => collector.spans.filter((s) => s.traceId === traceId);

  beforeAll(async () => {
    collector = await startCollector();
    database = await createTestDatabase();
    service = await startServiceProcess(
      serviceEnv(database, {
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
        OTEL_BSP_SCHEDULE_DELAY: '100', // export every 100 ms rather than every 5 s
        OTEL_SERVICE_NAME: 'inventory-under-test',
      }),
    );
    token = await loginTo(service.url, ADMIN);
    expect((await send('POST', '/api/products', { sku: 'TRACED-1', name: 'Traced' })).status).toBe(201);
  });
  afterAll(async () => {
    await service?.stop();
    await database?.drop();
    await collector?.close();
  });

  it('continues an incoming traceparent: a server span named by route, the group transaction and its SQL as children', async () => {
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    const res = await send(
      'POST',
      '/api/stock/in',
      { sku: 'TRACED-1', quantity: 5 },
      { traceparent: `00-${traceId}-${callerSpanId}-01`, 'X-Request-Id': 'traced-stock-in' },
    );
    expect(res.status).toBe(201);

    await waitFor('the stock write span', () => trace(traceId).some((s) => s.name === 'stock.group'));
    const spans = trace(traceId);
    const server = spans.find((s) => s.kind === SERVER);
    expect(server).toMatchObject({ name: 'POST /api/stock/in', parentSpanId: callerSpanId });
    expect(attr(server!, 'http.route')).toBe('/api/stock/in');
    const group = spans.find((s) => s.name === 'stock.group')!;
    expect(group.parentSpanId).toBe(server!.spanId);
    expect(attr(group, 'inventory.group.writes')).toBe(1);
    expect(attr(group, 'inventory.group.operations')).toBe(1);
    expect(attr(group, 'inventory.retries')).toBe(0);
    expect(attr(group, 'inventory.lock_wait_ms')).toEqual(expect.any(Number));
    if (testDbType() === 'mysql') {
      // SQL round trips (mysql2) are children of the group: its locks, its writes, its commit
      const sql = spans.filter((s) => s.kind === CLIENT && s.parentSpanId === group.spanId);
      const statements = sql.map((s) => String(attr(s, 'db.query.text') ?? attr(s, 'db.statement')));
      expect(statements.some((q) => /FOR UPDATE/i.test(q))).toBe(true);
      expect(statements.some((q) => /^INSERT INTO stock_movements/im.test(q))).toBe(true);
      expect(statements.some((q) => /^COMMIT/m.test(q))).toBe(true);
      // the statements as sent, never their bound values (here: the request id the movement records)
      expect(statements.some((q) => /VALUES \(\?/.test(q))).toBe(true);
      expect(statements.filter((q) => q.includes('traced-stock-in'))).toEqual([]);
    }
    expect([...collector.services]).toEqual(['inventory-under-test']);
    expect([...collector.paths].every((p) => p.startsWith('POST /v1/traces application/json'))).toBe(true);

    // every log line of the request carries its trace id
    const lines = () =>
      readFileSync(service.logFile, 'utf8')
        .split('\n')
        .filter((line) => line.includes('"traced-stock-in"'))
        .map((line) => JSON.parse(line) as { trace_id?: string; span_id?: string; msg: string });
    await waitFor('the request log line', () => lines().some((l) => l.msg === 'request completed'));
    expect(lines().length).toBeGreaterThan(0);
    for (const line of lines()) expect(line).toMatchObject({ trace_id: traceId, span_id: server!.spanId });
  });

  it('starts a new trace when none comes in, links the other requests a group commits with, and leaves probes untraced', async () => {
    const before = new Set(collector.spans.map((s) => s.traceId));
    // probes first, with a trace to continue: the spans end in order, so once the writes' spans are in,
    // a probe's would be too
    const probeTrace = randomBytes(16).toString('hex');
    const traceparent = `00-${probeTrace}-${randomBytes(8).toString('hex')}-01`;
    expect((await send('GET', '/health/ready', undefined, { traceparent })).status).toBe(200);
    expect((await send('GET', '/metrics', undefined, { traceparent })).status).toBe(200);
    // concurrent writes to one SKU: some share a group (MySQL); each request still gets its own server span
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        send('POST', '/api/stock/out', { sku: 'TRACED-1', quantity: 1 }).catch(() => null),
      ),
    );
    expect(answers.filter((r) => r?.status === 201 || r?.status === 409).length).toBe(20);
    await waitFor(
      '20 server spans',
      () =>
        collector.spans.some((s) => s.name === 'POST /api/stock/out') &&
        collector.spans.filter((s) => s.name === 'POST /api/stock/out' && !before.has(s.traceId)).length === 20,
    );
    const servers = collector.spans.filter((s) => s.name === 'POST /api/stock/out');
    expect(new Set(servers.map((s) => s.traceId)).size).toBe(20); // one new trace each
    expect(servers.every((s) => !s.parentSpanId)).toBe(true);
    // each request is the parent of a group, or linked from one
    const serverIds = new Set(servers.map((s) => s.spanId));
    const covered = new Set<string>();
    await waitFor('the groups of all 20 writes', () => {
      for (const group of collector.spans.filter((s) => s.name === 'stock.group')) {
        if (group.parentSpanId && serverIds.has(group.parentSpanId)) covered.add(group.parentSpanId);
        for (const link of group.links ?? []) if (serverIds.has(link.spanId)) covered.add(link.spanId);
      }
      return covered.size === 20;
    });
    const groups = collector.spans.filter((s) => s.name === 'stock.group' && serverIds.has(s.parentSpanId ?? ''));
    const writes = groups.reduce((total, g) => total + Number(attr(g, 'inventory.group.writes')), 0);
    expect(writes).toBe(20);
    expect(trace(probeTrace)).toEqual([]);
    expect(collector.spans.some((s) => /health|metrics/.test(s.name))).toBe(false);
  });
});
