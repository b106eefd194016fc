/**
 * The contract's webhooks (Events and webhooks, v2), on this project's driver: CRUD and validation, the
 * secret shown once and never again (answers, audit log), the audit trail, who may call them, and
 * delivery to a real receiver on 127.0.0.1 — Standard Webhooks signatures checked with the
 * `standardwebhooks` package, bodies equal to the feed's events, subscriptions (types, enabled, only
 * events after creation), retries on WEBHOOK_RETRY_SCHEDULE, FAILED and a manual retry, a receiver that
 * is not listening, one product's events in order, metrics — and, in a production app of its own, the
 * SSRF guard. The feed itself is in events.e2e-spec.ts.
 *
 * Deliveries happen after a commit, on the service's own time: tests poll (support/wait.ts), never sleep.
 */
import { createServer, IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { EventView } from '../src/modules/events/events.repository';
import type { DeliveryView, WebhookView } from '../src/modules/events/webhooks/dto/webhook.dto';
import type { ProductView } from '../src/modules/products/dto/product.dto';
import type { LevelView, MovementView } from '../src/modules/stock/stock.views';
import { expectError, expectValidation, expectValidationOneOf } from './support/errors';
import { expectIso } from './support/stock';
import { bearer, startTestApp, TestApp } from './support/test-app';
import { waitFor, within } from './support/wait';

type Json = Record<string, unknown>;
type FeedEvent = Omit<EventView, 'data'> & { data: Json };
type Created = { webhook: WebhookView; secret: string };

const WEBHOOK_KEYS = ['createdAt', 'description', 'enabled', 'events', 'id', 'updatedAt', 'url'];
const DELIVERY_KEYS = [
  'attempts',
  'deliveredAt',
  'eventId',
  'eventType',
  'id',
  'lastError',
  'lastStatusCode',
  'nextAttemptAt',
  'status',
];
/** Two retries 0.2 s apart: at most three attempts, then FAILED — quick enough for a test. */
const RETRY_SCHEDULE = '0.2,0.2';
const MOST_ATTEMPTS = 3;
const ROLES_REFUSED = ['viewer', 'operator', 'manager', 'monitor'] as const;

// ---------------------------------------------------------------- the receiver

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}
/** How the receiver answers a request: a status, or a status and headers; it may take its time. */
type Answer = (request: Received, attempt: number) => number | { status: number; headers: Json } | Promise<number>;

interface Receiver {
  url: string;
  port: number;
  /** Every request, in the order they arrived. */
  requests: Received[];
  answer: Answer;
  /** The requests that carried this event (webhook-id). */
  of(eventId: string): Received[];
  /** The event ids in the order of their first arrival. */
  firstArrivals(): string[];
  close(): Promise<void>;
}

const eventIdOf = (request: Received) => String(request.headers['webhook-id']);
const bodyOf = (request: Received) => JSON.parse(request.body) as FeedEvent;

/** An HTTP server on 127.0.0.1 that records each request (raw body, headers) and answers as `answer` says. */
async function startReceiver(answer: Answer = () => 200): Promise<Receiver> {
  const receiver = { requests: [] as Received[], answer } as Receiver;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: Received = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      receiver.requests.push(request);
      const attempt = receiver.of(eventIdOf(request)).length;
      void Promise.resolve(receiver.answer(request, attempt)).then(
        (answered) => {
          const { status, headers } = typeof answered === 'number' ? { status: answered, headers: {} } : answered;
          res.writeHead(status, { 'content-type': 'text/plain', ...(headers as Record<string, string>) }).end('ok');
        },
        () => res.writeHead(500).end(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}/hooks/inventory`;
  receiver.of = (eventId) => receiver.requests.filter((r) => eventIdOf(r) === eventId);
  receiver.firstArrivals = () => [...new Set(receiver.requests.map(eventIdOf))];
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

/** A port nothing listens on: connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A promise the test resolves when it chooses: a receiver holds its answer until then. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Standard Webhooks verification, as a receiver does it: throws on a bad signature or an old timestamp. */
function verify(secret: string, request: Received): unknown {
  return new Webhook(secret).verify(request.body, {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': String(request.headers['webhook-signature']),
  });
}

function expectWebhook(value: unknown, expected: Partial<WebhookView> = {}): void {
  const w = value as WebhookView;
  expect(Object.keys(w).sort()).toEqual(WEBHOOK_KEYS);
  expect(Number.isSafeInteger(w.id) && w.id > 0).toBe(true);
  expect(typeof w.url).toBe('string');
  expect(Array.isArray(w.events)).toBe(true);
  expect(w.description === null || typeof w.description === 'string').toBe(true);
  expect(typeof w.enabled).toBe('boolean');
  expectIso(w.createdAt);
  expectIso(w.updatedAt);
  expect(w).toEqual(expect.objectContaining(expected));
}

function expectDelivery(value: unknown, expected: Partial<DeliveryView> = {}): void {
  const d = value as DeliveryView;
  expect(Object.keys(d).sort()).toEqual(DELIVERY_KEYS);
  expect(Number.isSafeInteger(d.id) && d.id > 0).toBe(true);
  expect(d.eventId).toMatch(/^\d+$/);
  expect(typeof d.eventType).toBe('string');
  expect(['PENDING', 'DELIVERED', 'FAILED']).toContain(d.status);
  expect(Number.isSafeInteger(d.attempts) && d.attempts >= 0).toBe(true);
  expect(d.lastStatusCode === null || Number.isSafeInteger(d.lastStatusCode)).toBe(true);
  expect(d.lastError === null || typeof d.lastError === 'string').toBe(true);
  if (d.nextAttemptAt !== null) expectIso(d.nextAttemptAt);
  if (d.deliveredAt !== null) expectIso(d.deliveredAt);
  if (d.status === 'DELIVERED') {
    expectIso(d.deliveredAt);
    expect(d.lastError).toBeNull();
    expect(d.lastStatusCode).toBeGreaterThanOrEqual(200);
    expect(d.lastStatusCode).toBeLessThan(300);
    expect(d.nextAttemptAt).toBeNull();
  }
  if (d.status === 'FAILED') {
    expect(d.deliveredAt).toBeNull();
    expect(d.nextAttemptAt).toBeNull();
    expect(typeof d.lastError === 'string' && d.lastError.length > 0).toBe(true);
  }
  expect(d).toEqual(expect.objectContaining(expected));
}

/** The secret and its key bytes, written as they could leak: neither may appear in `text`. */
function expectNoSecret(text: string, secret: string): void {
  expect(text).not.toContain(secret);
  expect(text).not.toContain(secret.slice('whsec_'.length));
  expect(text).not.toMatch(/whsec_/);
}

/** The REST of one app: webhooks, deliveries, the feed, products and stock, on `app()`. */
function client(app: () => TestApp) {
  let seq = 0;
  const admin = () => bearer(app().tokens.admin);
  const created: number[] = [];

  async function createWebhook(body: Json): Promise<Created> {
    const res = await app().http.post('/api/webhooks').set(admin()).send(body);
    if (res.status !== 201) throw new Error(`POST /api/webhooks ${JSON.stringify(body)}: ${res.status} ${res.text}`);
    created.push((res.body as Created).webhook.id);
    return res.body as Created;
  }

  /** Deletes the webhooks this client created (each test's own, so none of them gets the next test's events). */
  async function deleteCreated(): Promise<void> {
    for (const id of created.splice(0)) await app().http.delete(`/api/webhooks/${id}`).set(admin());
  }

  async function patchWebhook(id: number, body: Json): Promise<WebhookView> {
    const res = await app().http.patch(`/api/webhooks/${id}`).set(admin()).send(body);
    expect(res.status).toBe(200);
    return res.body as WebhookView;
  }

  /** Every delivery of a webhook (all pages). */
  async function deliveries(webhookId: number, query: Json = {}): Promise<DeliveryView[]> {
    const items: DeliveryView[] = [];
    let cursor: string | null = null;
    do {
      const res = await app()
        .http.get(`/api/webhooks/${webhookId}/deliveries`)
        .query({ ...query, limit: 200, ...(cursor ? { cursor } : {}) })
        .set(admin());
      expect(res.status).toBe(200);
      expect(Object.keys(res.body as Json).sort()).toEqual(['items', 'nextCursor']);
      items.push(...(res.body.items as DeliveryView[]));
      cursor = res.body.nextCursor as string | null;
    } while (cursor !== null);
    items.forEach((d) => expectDelivery(d));
    return items;
  }

  /** Waits until the webhook's delivery of `eventId` satisfies `done`, and answers it. */
  async function deliveryOf(
    webhookId: number,
    eventId: string,
    done: (d: DeliveryView) => boolean,
    what: string,
  ): Promise<DeliveryView> {
    let found: DeliveryView | undefined;
    await waitFor(`delivery of event ${eventId} to webhook ${webhookId} ${what}`, async () => {
      found = (await deliveries(webhookId)).find((d) => d.eventId === eventId);
      return found !== undefined && done(found);
    });
    return found!;
  }

  /** Waits until every delivery of the webhook is DELIVERED or FAILED and there are `count`. */
  async function settled(webhookId: number, count: number): Promise<DeliveryView[]> {
    let found: DeliveryView[] = [];
    await waitFor(`webhook ${webhookId}: ${count} deliveries, none PENDING`, async () => {
      found = await deliveries(webhookId);
      return found.length === count && found.every((d) => d.status !== 'PENDING');
    });
    return found;
  }

  /** Every placed event (optionally of one type), oldest first. */
  async function feed(type?: string): Promise<FeedEvent[]> {
    const items: FeedEvent[] = [];
    let after: string | undefined;
    for (;;) {
      const query: Json = { limit: 200 };
      if (type) query.type = type;
      if (after) query.after = after;
      const res = await app().http.get('/api/events').query(query).set(admin());
      expect(res.status).toBe(200);
      items.push(...(res.body.items as FeedEvent[]));
      if ((res.body.items as FeedEvent[]).length < 200) return items;
      after = res.body.nextCursor as string;
    }
  }

  /** The event the feed shows under `id`. */
  async function feedEvent(id: string): Promise<FeedEvent> {
    const res = await app()
      .http.get('/api/events')
      .query({ after: String(BigInt(id) - 1n), limit: 1 })
      .set(admin());
    expect(res.status).toBe(200);
    const [event] = res.body.items as FeedEvent[];
    expect(event?.id).toBe(id);
    return event;
  }

  /** Waits for the feed to show an event matching `match`, and answers it. */
  async function placed(what: string, match: (e: FeedEvent) => boolean, type?: string): Promise<FeedEvent> {
    let found: FeedEvent | undefined;
    await waitFor(`the feed shows ${what}`, async () => {
      found = (await feed(type)).find(match);
      return found !== undefined;
    });
    return found!;
  }

  async function product(prefix: string, reorderPoint = 0): Promise<ProductView> {
    const res = await app()
      .http.post('/api/products')
      .set(bearer(app().tokens.manager))
      .send({ sku: `${prefix}-${++seq}`, name: `Product ${prefix}`, reorderPoint });
    expect(res.status).toBe(201);
    return res.body as ProductView;
  }

  /** Its product.created event, once placed. */
  const createdEvent = (p: ProductView) =>
    placed(`product.created of ${p.sku}`, (e) => e.data.id === p.id, 'product.created');

  async function stock(route: 'in' | 'out', productId: number, quantity: number): Promise<MovementView> {
    const res = await app()
      .http.post(`/api/stock/${route}`)
      .set(bearer(app().tokens.operator))
      .send({ productId, quantity });
    expect(res.status).toBe(201);
    return (res.body as { movement: MovementView; level: LevelView }).movement;
  }

  /** The stock.movement event of a movement, once placed. */
  const movementEvent = (m: MovementView) => placed(`movement ${m.id}`, (e) => e.data.id === m.id, 'stock.movement');

  /** inventory_outbox_pending and inventory_webhook_deliveries_total{outcome}, from GET /metrics. */
  async function metrics(): Promise<{ pending: number; delivered: number; retry: number; failed: number }> {
    const res = await app().http.get('/metrics').set(admin());
    expect(res.status).toBe(200);
    const text = res.text;
    const pending = /^inventory_outbox_pending (\S+)$/m.exec(text);
    expect(pending).not.toBeNull();
    const counter = (outcome: string) =>
      Number(
        new RegExp(`^inventory_webhook_deliveries_total\\{outcome="${outcome}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0,
      );
    expect(text).toMatch(/^# TYPE inventory_outbox_pending gauge$/m);
    expect(text).toMatch(/^# TYPE inventory_webhook_deliveries_total counter$/m);
    return {
      pending: Number(pending![1]),
      delivered: counter('delivered'),
      retry: counter('retry'),
      failed: counter('failed'),
    };
  }

  return {
    admin,
    createWebhook,
    deleteCreated,
    patchWebhook,
    deliveries,
    deliveryOf,
    settled,
    feed,
    feedEvent,
    placed,
    product,
    createdEvent,
    stock,
    movementEvent,
    metrics,
  };
}

// ---------------------------------------------------------------- the suite

describe('webhooks', () => {
  let t: TestApp;
  const receivers: Receiver[] = [];
  const c = client(() => t);
  const receiver = async (answer?: Answer) => {
    const r = await startReceiver(answer);
    receivers.push(r);
    return r;
  };

  beforeAll(async () => {
    t = await startTestApp({ WEBHOOK_RETRY_SCHEDULE: RETRY_SCHEDULE });
  });
  afterEach(() => c.deleteCreated());
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await t?.close();
  });

  describe('CRUD (admin)', () => {
    it('POST answers 201 {webhook, secret}: the secret whsec_… is shown there and nowhere else', async () => {
      const rx = await receiver();
      const res = await t.http
        .post('/api/webhooks')
        .set(c.admin())
        .send({ url: rx.url, events: ['stock.low', 'product.created'], description: 'ERP sync' });
      expect(res.status).toBe(201);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(Object.keys(res.body as Json).sort()).toEqual(['secret', 'webhook']);
      const { webhook, secret } = res.body as Created;
      expectWebhook(webhook, {
        url: rx.url,
        events: ['stock.low', 'product.created'],
        description: 'ERP sync',
        enabled: true,
      });
      expect(webhook.updatedAt).toBe(webhook.createdAt);
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
      expect(Buffer.from(secret.slice('whsec_'.length), 'base64').length).toBeGreaterThanOrEqual(24);
      await t.http.delete(`/api/webhooks/${webhook.id}`).set(c.admin()).expect(204);

      // description is optional (null), ["*"] takes every type, and each webhook gets a secret of its own
      const other = await c.createWebhook({ url: rx.url, events: ['*'] });
      expectWebhook(other.webhook, { events: ['*'], description: null, enabled: true });
      expect(other.secret).not.toBe(secret);

      // GET, the list and PATCH answer the webhook itself, never its secret
      const got = await t.http.get(`/api/webhooks/${other.webhook.id}`).set(c.admin());
      expect(got.status).toBe(200);
      expect(got.body).toEqual(other.webhook);
      const list = await t.http.get('/api/webhooks').set(c.admin());
      expect(list.status).toBe(200);
      expect(list.body).toEqual({ items: [other.webhook], nextCursor: null });
      const patched = await t.http
        .patch(`/api/webhooks/${other.webhook.id}`)
        .set(c.admin())
        .send({ description: 'still secret' });
      expect(patched.status).toBe(200);
      expectWebhook(patched.body, { id: other.webhook.id, description: 'still secret' });
      const deliveries = await t.http.get(`/api/webhooks/${other.webhook.id}/deliveries`).set(c.admin()).expect(200);
      for (const answer of [got, list, patched, deliveries]) expectNoSecret(answer.text, other.secret);
    });

    it('GET /api/webhooks is a list route: oldest first, limit and an opaque cursor, nextCursor null at the end', async () => {
      const rx = await receiver();
      const made = [];
      for (let i = 0; i < 3; i++) made.push((await c.createWebhook({ url: `${rx.url}/${i}`, events: ['*'] })).webhook);
      const first = await t.http.get('/api/webhooks').query({ limit: 2 }).set(c.admin()).expect(200);
      expect(first.body.items).toEqual(made.slice(0, 2));
      expect(typeof first.body.nextCursor).toBe('string');
      const second = await t.http
        .get('/api/webhooks')
        .query({ limit: 2, cursor: first.body.nextCursor })
        .set(c.admin())
        .expect(200);
      expect(second.body).toEqual({ items: made.slice(2), nextCursor: null });
      for (const [query, field] of [
        [{ limit: 0 }, 'limit'],
        [{ limit: 201 }, 'limit'],
        [{ cursor: 'not-a-cursor!' }, 'cursor'],
        [{ enabled: 'true' }, 'enabled'],
      ] as [Json, string][]) {
        expectValidation(await t.http.get('/api/webhooks').query(query).set(c.admin()), [field]);
      }
    });

    it('PATCH changes url, events, description and enabled, and answers the webhook; bad values 400', async () => {
      const rx = await receiver();
      const { webhook } = await c.createWebhook({ url: rx.url, events: ['*'], description: 'first' });
      const changed = await c.patchWebhook(webhook.id, {
        url: `${rx.url}/v2`,
        events: ['stock.low', 'stock.restocked'],
        description: 'second',
        enabled: false,
      });
      expectWebhook(changed, {
        id: webhook.id,
        url: `${rx.url}/v2`,
        events: ['stock.low', 'stock.restocked'],
        description: 'second',
        enabled: false,
        createdAt: webhook.createdAt,
      });
      expect(Date.parse(changed.updatedAt)).toBeGreaterThanOrEqual(Date.parse(webhook.updatedAt));
      expect((await t.http.get(`/api/webhooks/${webhook.id}`).set(c.admin()).expect(200)).body).toEqual(changed);
      expect(await c.patchWebhook(webhook.id, { description: null })).toEqual(
        expect.objectContaining({ description: null, enabled: false }),
      );
      const enabled = await c.patchWebhook(webhook.id, { enabled: true });
      expectWebhook(enabled, { description: null, enabled: true, events: ['stock.low', 'stock.restocked'] });

      for (const [body, field] of [
        [{ url: 'ftp://example.com/hook' }, 'url'],
        [{ url: 'not a url' }, 'url'],
        [{ url: null }, 'url'],
        [{ events: [] }, 'events'],
        [{ events: ['stock.nope'] }, 'events'],
        [{ events: 'stock.low' }, 'events'],
        [{ enabled: 'yes' }, 'enabled'],
        [{ enabled: null }, 'enabled'], // found by the body fuzz: null once reached the NOT NULL column (500)
        [{ events: null }, 'events'],
        [{ description: 'x'.repeat(2001) }, 'description'],
        [{ secret: 'whsec_bWluZQ==' }, 'secret'],
        [{ id: 99 }, 'id'],
        [{ createdAt: '2020-01-01T00:00:00.000Z' }, 'createdAt'],
      ] as [Json, string][]) {
        const res = await t.http.patch(`/api/webhooks/${webhook.id}`).set(c.admin()).send(body);
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
        expectValidationOneOf(res, [field, `${field}.0`]);
      }
      expect((await t.http.get(`/api/webhooks/${webhook.id}`).set(c.admin()).expect(200)).body).toEqual(enabled);
    });

    it('POST refuses bad bodies with 400 VALIDATION_FAILED naming the field, creating nothing', async () => {
      const rx = await receiver();
      const good = { url: rx.url, events: ['*'] };
      const cases: [unknown, string][] = [
        [{ events: ['*'] }, 'url'],
        [{ ...good, url: 'ftp://example.com/hook' }, 'url'],
        [{ ...good, url: 'javascript:alert(1)' }, 'url'],
        [{ ...good, url: 'file:///etc/passwd' }, 'url'],
        [{ ...good, url: 'gopher://127.0.0.1:25/' }, 'url'],
        [{ ...good, url: 'example.com/hook' }, 'url'],
        [{ ...good, url: '' }, 'url'],
        [{ ...good, url: 42 }, 'url'],
        [{ url: rx.url }, 'events'],
        [{ ...good, events: [] }, 'events'],
        [{ ...good, events: ['stock.nope'] }, 'events'],
        [{ ...good, events: ['stock.low', 'STOCK.LOW'] }, 'events'],
        [{ ...good, events: 'stock.low' }, 'events'],
        [{ ...good, events: [null] }, 'events'],
        [{ ...good, description: 5 }, 'description'],
        [{ ...good, description: 'x'.repeat(2001) }, 'description'],
        [{ ...good, secret: 'whsec_bWluZQ==' }, 'secret'],
        [{ ...good, enabled: false }, 'enabled'],
        [{ ...good, id: 7 }, 'id'],
      ];
      for (const [body, field] of cases) {
        const res = await t.http
          .post('/api/webhooks')
          .set(c.admin())
          .send(body as object);
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
        expectValidationOneOf(res, [field, `${field}.0`, `${field}.1`]);
      }
      const malformed = await t.http
        .post('/api/webhooks')
        .set(c.admin())
        .set('Content-Type', 'application/json')
        .send('{"url": ');
      expectError(malformed, 400, 'VALIDATION_FAILED');
      expect((await t.http.get('/api/webhooks').set(c.admin()).expect(200)).body.items).toEqual([]);
    });

    it('takes a description of up to 2000 characters (the contract`s text limit)', async () => {
      const rx = await receiver();
      const description = 'd'.repeat(2000);
      const res = await t.http
        .post('/api/webhooks')
        .set(c.admin())
        .send({ url: rx.url, events: ['*'], description });
      expect({ status: res.status, body: res.status === 201 ? 'created' : res.body }).toEqual({
        status: 201,
        body: 'created',
      });
      const { webhook } = res.body as Created;
      await t.http.delete(`/api/webhooks/${webhook.id}`).set(c.admin()).expect(204);
      expect(webhook.description).toBe(description);
    });

    it('DELETE answers 204, then GET, PATCH, DELETE, deliveries and retry answer 404; so do unknown ids', async () => {
      const rx = await receiver();
      const { webhook } = await c.createWebhook({ url: rx.url, events: ['*'] });
      const removed = await t.http.delete(`/api/webhooks/${webhook.id}`).set(c.admin());
      expect(removed.status).toBe(204);
      expect(removed.text).toBe('');
      for (const id of [webhook.id, 999999]) {
        const answers = [
          await t.http.get(`/api/webhooks/${id}`).set(c.admin()),
          await t.http.patch(`/api/webhooks/${id}`).set(c.admin()).send({ description: 'gone' }),
          await t.http.delete(`/api/webhooks/${id}`).set(c.admin()),
          await t.http.get(`/api/webhooks/${id}/deliveries`).set(c.admin()),
          await t.http.post(`/api/webhooks/${id}/deliveries/1/retry`).set(c.admin()),
        ];
        for (const res of answers) expectError(res, 404, 'NOT_FOUND');
      }
      expect((await t.http.get('/api/webhooks').set(c.admin()).expect(200)).body.items).toEqual([]);
    });
  });

  describe('audit', () => {
    it('webhook.create, .update and .delete, entityType webhook, by the admin, newest first', async () => {
      const rx = await receiver();
      const { webhook } = await c.createWebhook({ url: rx.url, events: ['*'], description: 'audited' });
      await c.patchWebhook(webhook.id, { enabled: false, description: 'audited twice' });
      await t.http.delete(`/api/webhooks/${webhook.id}`).set(c.admin()).expect(204);
      const res = await t.http
        .get('/api/audit-logs')
        .query({ entityType: 'webhook', entityId: String(webhook.id) })
        .set(c.admin());
      expect({ status: res.status, body: res.status === 200 ? 'ok' : res.body }).toEqual({ status: 200, body: 'ok' });
      const entries = res.body.items as Json[];
      expect(entries.map((e) => e.action)).toEqual(['webhook.delete', 'webhook.update', 'webhook.create']);
      for (const e of entries) {
        expect(e).toEqual(
          expect.objectContaining({
            entityType: 'webhook',
            entityId: String(webhook.id),
            actor: expect.objectContaining({ username: 'admin', role: 'admin' }),
          }),
        );
      }
      const [deleted, updated, created] = entries;
      expect(created.before).toBeNull();
      expect(created.after).toEqual(expect.objectContaining({ id: webhook.id, url: rx.url, description: 'audited' }));
      expect(updated.before).toEqual(expect.objectContaining({ enabled: true, description: 'audited' }));
      expect(updated.after).toEqual(expect.objectContaining({ enabled: false, description: 'audited twice' }));
      expect(deleted.before).toEqual(expect.objectContaining({ id: webhook.id }));
      expect(deleted.after).toBeNull();
    });

    it('the secret never appears in the audit log', async () => {
      const rx = await receiver();
      const { webhook, secret } = await c.createWebhook({ url: rx.url, events: ['*'] });
      await c.patchWebhook(webhook.id, { url: `${rx.url}/moved`, events: ['stock.low'] });
      await t.http.delete(`/api/webhooks/${webhook.id}`).set(c.admin()).expect(204);
      const answers = [];
      for (const action of ['webhook.create', 'webhook.update', 'webhook.delete']) {
        const res = await t.http.get('/api/audit-logs').query({ action, limit: 200 }).set(c.admin()).expect(200);
        expect((res.body.items as Json[]).map((e) => e.entityId)).toContain(String(webhook.id));
        answers.push(res.text);
      }
      answers.push((await t.http.get('/api/audit-logs').query({ limit: 200 }).set(c.admin()).expect(200)).text);
      const byType = await t.http.get('/api/audit-logs').query({ entityType: 'webhook', limit: 200 }).set(c.admin());
      answers.push(byType.text);
      for (const text of answers) {
        expectNoSecret(text, secret);
        expect(text).not.toMatch(/sealed/i);
      }
      // and the database holds it sealed, never as issued
      const rows = await t.dataSource.query('SELECT * FROM audit_logs');
      expectNoSecret(JSON.stringify(rows), secret);
    });
  });

  describe('roles', () => {
    it('only admin: viewer, operator, manager and monitor get 403 on every webhook route; no token 401', async () => {
      const rx = await receiver();
      const { webhook } = await c.createWebhook({ url: rx.url, events: ['*'] });
      const routes = (token?: string) => {
        const auth = (req: ReturnType<typeof t.http.get>) => (token ? req.set(bearer(token)) : req);
        return [
          auth(t.http.post('/api/webhooks')).send({ url: rx.url, events: ['*'] }),
          auth(t.http.get('/api/webhooks')),
          auth(t.http.get(`/api/webhooks/${webhook.id}`)),
          auth(t.http.patch(`/api/webhooks/${webhook.id}`)).send({ enabled: false }),
          auth(t.http.delete(`/api/webhooks/${webhook.id}`)),
          auth(t.http.get(`/api/webhooks/${webhook.id}/deliveries`)),
          auth(t.http.post(`/api/webhooks/${webhook.id}/deliveries/1/retry`)),
        ];
      };
      for (const role of ROLES_REFUSED) {
        for (const req of routes(t.tokens[role])) expectError(await req, 403, 'FORBIDDEN');
      }
      for (const req of routes()) expectError(await req, 401, 'UNAUTHORIZED');
      // nothing changed
      const list = await t.http.get('/api/webhooks').set(c.admin()).expect(200);
      expect(list.body.items).toEqual([webhook]);
    });
  });

  describe('delivery', () => {
    it('POSTs each event signed per Standard Webhooks; the body is the event as the feed shows it', async () => {
      const rx = await receiver();
      const rx2 = await receiver();
      const { webhook, secret } = await c.createWebhook({ url: rx.url, events: ['*'] });
      const second = await c.createWebhook({ url: rx2.url, events: ['*'] });
      const p = await c.product('WH-SIGN', 0);
      const movement = await c.stock('in', p.id, 3); // stock.movement, then stock.restocked (0 was low)
      await waitFor('three events delivered to each', () => rx.requests.length >= 3 && rx2.requests.length >= 3);
      expect(rx.requests.map((r) => bodyOf(r).type)).toEqual(['product.created', 'stock.movement', 'stock.restocked']);
      expect(bodyOf(rx.requests[1]).data).toEqual(movement);

      for (const request of rx.requests) {
        expect(request.method).toBe('POST');
        expect(request.path).toBe('/hooks/inventory');
        expect(request.headers['content-type']).toMatch(/^application\/json/);
        const event = await c.feedEvent(eventIdOf(request));
        expect(bodyOf(request)).toEqual(event);
        expect(verify(secret, request)).toEqual(event);
        expect(request.headers['webhook-id']).toBe(event.id);
        const timestamp = String(request.headers['webhook-timestamp']);
        expect(timestamp).toMatch(/^\d+$/);
        expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
        expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
        // verification can fail: another webhook's secret, a changed body, a changed id
        expect(() => verify(second.secret, request)).toThrow();
        expect(() => verify(secret, { ...request, body: request.body.replace('"id"', '"id" ') })).toThrow();
        expect(() =>
          verify(secret, { ...request, headers: { ...request.headers, 'webhook-id': `${event.id}0` } }),
        ).toThrow();
      }
      // the other webhook got the same events, signed with its own secret
      expect(rx2.requests.map(eventIdOf)).toEqual(rx.requests.map(eventIdOf));
      for (const request of rx2.requests) verify(second.secret, request);

      const delivered = await c.settled(webhook.id, 3);
      expect(delivered.map((d) => d.eventId).sort()).toEqual(rx.requests.map(eventIdOf).sort());
      for (const d of delivered) {
        expectDelivery(d, {
          status: 'DELIVERED',
          attempts: 1,
          lastStatusCode: 200,
          lastError: null,
          nextAttemptAt: null,
        });
        expect(d.eventType).toBe(bodyOf(rx.of(d.eventId)[0]).type);
      }
      // the deliveries list pages like every list route
      const page = await t.http.get(`/api/webhooks/${webhook.id}/deliveries`).query({ limit: 2 }).set(c.admin());
      expect(page.status).toBe(200);
      expect(page.body.items).toHaveLength(2);
      const rest = await t.http
        .get(`/api/webhooks/${webhook.id}/deliveries`)
        .query({ limit: 2, cursor: page.body.nextCursor })
        .set(c.admin())
        .expect(200);
      expect(rest.body.nextCursor).toBeNull();
      expect([...page.body.items, ...rest.body.items].map((d: DeliveryView) => d.id).sort()).toEqual(
        delivered.map((d) => d.id).sort(),
      );
      expect(await c.deliveries(webhook.id, { status: 'DELIVERED' })).toHaveLength(3);
      expect(await c.deliveries(webhook.id, { status: 'FAILED' })).toEqual([]);
      expectValidation(
        await t.http.get(`/api/webhooks/${webhook.id}/deliveries`).query({ status: 'LOST' }).set(c.admin()),
        ['status'],
      );
    });

    it('any 2xx is delivered; a redirect is not followed, it is a failure', async () => {
      const elsewhere = await receiver();
      const accepted = await receiver(() => 204);
      const redirecting = await receiver(() => ({ status: 302, headers: { location: elsewhere.url } }));
      const ok = await c.createWebhook({ url: accepted.url, events: ['product.created'] });
      const moved = await c.createWebhook({ url: redirecting.url, events: ['product.created'] });
      const event = await c.createdEvent(await c.product('WH-2XX'));
      const delivered = await c.deliveryOf(ok.webhook.id, event.id, (d) => d.status !== 'PENDING', 'done');
      expectDelivery(delivered, { status: 'DELIVERED', attempts: 1, lastStatusCode: 204, lastError: null });
      const failed = await c.deliveryOf(moved.webhook.id, event.id, (d) => d.status !== 'PENDING', 'done');
      expectDelivery(failed, { status: 'FAILED', attempts: MOST_ATTEMPTS, lastStatusCode: 302 });
      expect(redirecting.of(event.id)).toHaveLength(MOST_ATTEMPTS);
      expect(elsewhere.requests).toEqual([]);
    });
  });

  describe('subscriptions', () => {
    it('a webhook gets only the types it names (["stock.low"], or several)', async () => {
      const lowRx = await receiver();
      const pickRx = await receiver();
      const allRx = await receiver();
      const low = await c.createWebhook({ url: lowRx.url, events: ['stock.low'] });
      const pick = await c.createWebhook({ url: pickRx.url, events: ['product.created', 'stock.restocked'] });
      const all = await c.createWebhook({ url: allRx.url, events: ['*'] });
      const p = await c.product('WH-SUB', 2);
      await c.stock('in', p.id, 5); // restocked
      await c.stock('out', p.id, 4); // low (1)
      await c.stock('in', p.id, 1); // still low (2)
      await c.stock('in', p.id, 3); // restocked (5)
      await c.stock('out', p.id, 3); // low (2)
      // 1 product.created, 5 movements, 2 restocked, 2 low — every delivery row exists once the events are placed
      const everything = await c.settled(all.webhook.id, 10);
      const feed = (await c.feed()).filter((e) => everything.some((d) => d.eventId === e.id));
      expect(feed.map((e) => e.type)).toEqual([
        'product.created',
        'stock.movement',
        'stock.restocked',
        'stock.movement',
        'stock.low',
        'stock.movement',
        'stock.movement',
        'stock.restocked',
        'stock.movement',
        'stock.low',
      ]);
      const ids = (types: string[]) => feed.filter((e) => types.includes(e.type)).map((e) => e.id);

      const lows = await c.settled(low.webhook.id, 2);
      expect(lows.map((d) => d.eventId).sort()).toEqual(ids(['stock.low']).sort());
      for (const d of lows) expectDelivery(d, { eventType: 'stock.low', status: 'DELIVERED' });
      expect(lowRx.requests.map(eventIdOf)).toEqual(ids(['stock.low']));
      expect(lowRx.requests.map((r) => bodyOf(r).type)).toEqual(['stock.low', 'stock.low']);

      const picked = await c.settled(pick.webhook.id, 3);
      expect(picked.map((d) => d.eventId).sort()).toEqual(ids(['product.created', 'stock.restocked']).sort());
      expect(pickRx.requests.map(eventIdOf)).toEqual(ids(['product.created', 'stock.restocked']));
      expect(allRx.requests.map(eventIdOf)).toEqual(ids(feed.map((e) => e.type)));
    });

    it('a disabled webhook gets nothing while disabled; enabled again, only what comes after', async () => {
      const rx = await receiver();
      const sentinelRx = await receiver();
      const { webhook } = await c.createWebhook({ url: rx.url, events: ['*'] });
      const sentinel = await c.createWebhook({ url: sentinelRx.url, events: ['*'] });
      await c.patchWebhook(webhook.id, { enabled: false });
      const p = await c.product('WH-OFF', 0);
      await c.stock('in', p.id, 1); // product.created, stock.movement, stock.restocked
      await c.settled(sentinel.webhook.id, 3);
      expect(await c.deliveries(webhook.id)).toEqual([]);
      expect(rx.requests).toEqual([]);

      await c.patchWebhook(webhook.id, { enabled: true });
      const later = await c.movementEvent(await c.stock('in', p.id, 2));
      await c.settled(sentinel.webhook.id, 4);
      const got = await c.settled(webhook.id, 1);
      expectDelivery(got[0], { eventId: later.id, status: 'DELIVERED' });
      expect(rx.requests.map(eventIdOf)).toEqual([later.id]);
    });

    it('a new webhook gets no event committed before it existed', async () => {
      const sentinelRx = await receiver();
      const sentinel = await c.createWebhook({ url: sentinelRx.url, events: ['*'] });
      const p = await c.product('WH-NEW', 0);
      await c.stock('in', p.id, 1);
      await c.settled(sentinel.webhook.id, 3);
      const before = (await c.feed()).map((e) => e.id);

      const rx = await receiver();
      const late = await c.createWebhook({ url: rx.url, events: ['*'] });
      const after = await c.movementEvent(await c.stock('in', p.id, 1));
      await c.settled(sentinel.webhook.id, 4);
      const got = await c.settled(late.webhook.id, 1);
      expect(got.map((d) => d.eventId)).toEqual([after.id]);
      expect(rx.requests.map(eventIdOf)).toEqual([after.id]);
      expect(before).not.toContain(after.id);
    });
  });

  describe('retries', () => {
    it('500, 500, then 200: three attempts of the same signed event, then DELIVERED', async () => {
      const second = gate();
      const rx = await receiver(async (_request, attempt) => {
        if (attempt === 1) return 500;
        if (attempt === 2) {
          await second.opened; // held until the test has looked at the delivery
          return 500;
        }
        return 200;
      });
      const { webhook, secret } = await c.createWebhook({ url: rx.url, events: ['product.created'] });
      const event = await c.createdEvent(await c.product('WH-RETRY'));
      try {
        await waitFor('the second attempt', () => rx.of(event.id).length === 2);
        // after one 500, while the second attempt is under way
        const between = await c.deliveryOf(webhook.id, event.id, () => true, 'listed');
        expectDelivery(between, {
          eventId: event.id,
          eventType: 'product.created',
          status: 'PENDING',
          attempts: 2,
          lastStatusCode: 500,
          deliveredAt: null,
        });
        expect(between.lastError).toEqual(expect.stringMatching(/\S/));
      } finally {
        second.open();
      }
      const done = await c.deliveryOf(webhook.id, event.id, (d) => d.status !== 'PENDING', 'done');
      expectDelivery(done, {
        status: 'DELIVERED',
        attempts: 3,
        lastStatusCode: 200,
        lastError: null,
        nextAttemptAt: null,
      });
      const attempts = rx.of(event.id);
      expect(attempts).toHaveLength(3);
      for (const request of attempts) {
        expect(request.body).toBe(attempts[0].body);
        expect(verify(secret, request)).toEqual(event);
      }
    });

    it('always 500: FAILED after the schedule; a manual retry answers 202 and delivers once the receiver is back', async () => {
      let status = 500;
      const rx = await receiver(() => status);
      const { webhook, secret } = await c.createWebhook({ url: rx.url, events: ['product.created'] });
      const event = await c.createdEvent(await c.product('WH-FAIL'));
      const failed = await c.deliveryOf(webhook.id, event.id, (d) => d.status !== 'PENDING', 'done');
      expectDelivery(failed, {
        eventId: event.id,
        status: 'FAILED',
        attempts: MOST_ATTEMPTS,
        lastStatusCode: 500,
        nextAttemptAt: null,
        deliveredAt: null,
      });
      expect(rx.of(event.id)).toHaveLength(MOST_ATTEMPTS);
      expect(await c.deliveries(webhook.id, { status: 'FAILED' })).toEqual([failed]);
      expect(await c.deliveries(webhook.id, { status: 'PENDING' })).toEqual([]);
      expect(await c.deliveries(webhook.id, { status: 'DELIVERED' })).toEqual([]);

      status = 200;
      const retried = await t.http.post(`/api/webhooks/${webhook.id}/deliveries/${failed.id}/retry`).set(c.admin());
      expect(retried.status).toBe(202);
      expectDelivery(retried.body, { id: failed.id, eventId: event.id, eventType: 'product.created' });
      const done = await c.deliveryOf(webhook.id, event.id, (d) => d.status === 'DELIVERED', 'DELIVERED');
      expectDelivery(done, { id: failed.id, attempts: MOST_ATTEMPTS + 1, lastStatusCode: 200, lastError: null });
      const attempts = rx.of(event.id);
      expect(attempts).toHaveLength(MOST_ATTEMPTS + 1);
      expect(verify(secret, attempts[MOST_ATTEMPTS])).toEqual(event);

      // a delivery of another webhook, or none at all: 404
      const rx2 = await receiver();
      const other = await c.createWebhook({ url: rx2.url, events: ['product.created'] });
      expectError(
        await t.http.post(`/api/webhooks/${other.webhook.id}/deliveries/${failed.id}/retry`).set(c.admin()),
        404,
        'NOT_FOUND',
      );
      expectError(
        await t.http.post(`/api/webhooks/${webhook.id}/deliveries/999999/retry`).set(c.admin()),
        404,
        'NOT_FOUND',
      );
    });

    it('a receiver that is not listening: lastStatusCode null, lastError says why, then FAILED', async () => {
      const url = `http://127.0.0.1:${await closedPort()}/hooks`;
      const { webhook } = await c.createWebhook({ url, events: ['product.created'] });
      const event = await c.createdEvent(await c.product('WH-DOWN'));
      const failed = await c.deliveryOf(webhook.id, event.id, (d) => d.status !== 'PENDING', 'done');
      expectDelivery(failed, {
        status: 'FAILED',
        attempts: MOST_ATTEMPTS,
        lastStatusCode: null,
        nextAttemptAt: null,
        deliveredAt: null,
      });
      expect(failed.lastError).toMatch(/ECONNREFUSED|refused/i);
    });
  });

  describe('order', () => {
    it('one product`s events reach a webhook in event order: the next waits until the previous is DELIVERED', async () => {
      const first = gate();
      let head: string | undefined;
      const rx = await receiver(async (request, attempt) => {
        head ??= eventIdOf(request);
        if (eventIdOf(request) !== head) return 200;
        if (attempt === 1) await first.opened; // held until the product's later events are all waiting
        return attempt < 3 ? 500 : 200;
      });
      const { webhook } = await c.createWebhook({ url: rx.url, events: ['stock.movement'] });
      const p = await c.product('WH-ORDER');
      const movements: MovementView[] = [];
      try {
        movements.push(await c.stock('in', p.id, 1));
        await waitFor('the first event arrives', () => rx.requests.length === 1);
        movements.push(await c.stock('in', p.id, 2));
        movements.push(await c.stock('in', p.id, 3));
        movements.push(await c.stock('out', p.id, 1));
        movements.push(await c.stock('in', p.id, 4));
        await waitFor('every event has its delivery', async () => (await c.deliveries(webhook.id)).length === 5);
      } finally {
        first.open();
      }
      const delivered = await c.settled(webhook.id, 5);
      expect(delivered.every((d) => d.status === 'DELIVERED')).toBe(true);
      const events = await Promise.all(movements.map((m) => c.movementEvent(m)));
      expect(head).toBe(events[0].id);
      expect(rx.of(head!)).toHaveLength(3);
      // nothing of the product's later events came before the first one's last (successful) attempt
      const headDone = rx.requests.lastIndexOf(rx.of(head!)[2]);
      expect(rx.requests.slice(0, headDone).map(eventIdOf)).toEqual([head, head]);
      expect(rx.firstArrivals()).toEqual(events.map((e) => e.id));
    });

    it('... or FAILED: then the product`s next events go out, in order', async () => {
      let head: string | undefined;
      const first = gate();
      const rx = await receiver(async (request, attempt) => {
        head ??= eventIdOf(request);
        if (eventIdOf(request) !== head) return 200;
        if (attempt === 1) await first.opened;
        return 503;
      });
      const { webhook } = await c.createWebhook({ url: rx.url, events: ['stock.movement'] });
      const p = await c.product('WH-ORDER-FAIL');
      const movements: MovementView[] = [];
      try {
        movements.push(await c.stock('in', p.id, 1));
        await waitFor('the first event arrives', () => rx.requests.length === 1);
        movements.push(await c.stock('in', p.id, 2));
        movements.push(await c.stock('in', p.id, 3));
        await waitFor('every event has its delivery', async () => (await c.deliveries(webhook.id)).length === 3);
      } finally {
        first.open();
      }
      const done = await c.settled(webhook.id, 3);
      const events = await Promise.all(movements.map((m) => c.movementEvent(m)));
      expect(done.find((d) => d.eventId === events[0].id)).toEqual(
        expect.objectContaining({ status: 'FAILED', attempts: MOST_ATTEMPTS, lastStatusCode: 503 }),
      );
      for (const e of events.slice(1)) {
        expect(done.find((d) => d.eventId === e.id)).toEqual(expect.objectContaining({ status: 'DELIVERED' }));
      }
      const headDone = rx.requests.lastIndexOf(rx.of(head!)[MOST_ATTEMPTS - 1]);
      expect(rx.requests.slice(0, headDone + 1).map(eventIdOf)).toEqual(Array(MOST_ATTEMPTS).fill(head));
      expect(rx.firstArrivals()).toEqual(events.map((e) => e.id));
    });
    it('a reservation over two products is an event of each: the second product`s later events wait for it', async () => {
      const a = await c.product('WH-ORDER-A', 0);
      const b = await c.product('WH-ORDER-B', 2);
      await c.stock('in', a.id, 5);
      await c.stock('in', b.id, 4);
      const first = gate();
      let head: string | undefined;
      const rx = await receiver(async (request) => {
        head ??= eventIdOf(request);
        if (eventIdOf(request) === head) await first.opened; // product A's first event is held
        return 200;
      });
      const { webhook } = await c.createWebhook({ url: rx.url, events: ['*'] });
      let sentEarly: string[] = [];
      try {
        await c.stock('in', a.id, 1); // A: stock.movement (held)
        await waitFor('the first event arrives', () => rx.requests.length === 1);
        const res = await t.http
          .post('/api/stock/reservations')
          .set(bearer(t.tokens.operator))
          .send({
            lines: [
              { productId: a.id, quantity: 1 },
              { productId: b.id, quantity: 3 },
            ],
          });
        expect(res.status).toBe(201); // reservation.created (A and B), then stock.low of B (1 <= 2)
        await waitFor('every event has its delivery', async () => (await c.deliveries(webhook.id)).length === 3);
        // while A's event is held, reservation.created waits (it is A's too); stock.low of B must wait behind it
        await within(750, () => rx.requests.length > 1);
        sentEarly = rx.requests.slice(1).map((r) => bodyOf(r).type);
      } finally {
        first.open();
      }
      await c.settled(webhook.id, 3);
      expect(sentEarly).toEqual([]);
      const arrived = rx.firstArrivals();
      expect(arrived.map((id) => bodyOf(rx.of(id)[0]).type)).toEqual([
        'stock.movement',
        'reservation.created',
        'stock.low',
      ]);
      expect(arrived).toEqual([...arrived].sort((x, y) => Number(BigInt(x) - BigInt(y))));
    });
  });

  describe('subscriptions take effect at once', () => {
    it('PATCH url and events: later events go to the new url, of the new types only', async () => {
      const before = await receiver();
      const after = await receiver();
      const { webhook } = await c.createWebhook({ url: before.url, events: ['product.created'] });
      const first = await c.createdEvent(await c.product('WH-MOVE'));
      await c.deliveryOf(webhook.id, first.id, (d) => d.status === 'DELIVERED', 'DELIVERED');
      await c.patchWebhook(webhook.id, { url: after.url, events: ['stock.movement'] });
      const p = await c.product('WH-MOVE');
      const moved = await c.movementEvent(await c.stock('in', p.id, 1));
      const got = await c.settled(webhook.id, 2);
      expect(got.map((d) => d.eventId).sort()).toEqual([first.id, moved.id].sort());
      expect(before.requests.map(eventIdOf)).toEqual([first.id]);
      expect(after.requests.map(eventIdOf)).toEqual([moved.id]);
    });
  });

  describe('metrics', () => {
    it('inventory_outbox_pending counts what is not delivered yet; inventory_webhook_deliveries_total counts outcomes', async () => {
      const hold = gate();
      let status = 200;
      const rx = await receiver(async (_request, attempt) => {
        if (attempt === 1 && status === 200) await hold.opened;
        return status;
      });
      const { webhook } = await c.createWebhook({ url: rx.url, events: ['product.created'] });
      const start = await c.metrics();
      let event!: FeedEvent;
      try {
        event = await c.createdEvent(await c.product('WH-METRICS'));
        await waitFor('the delivery is under way', () => rx.requests.length === 1);
        expect((await c.metrics()).pending).toBeGreaterThanOrEqual(1);
      } finally {
        hold.open();
      }
      await c.deliveryOf(webhook.id, event.id, (d) => d.status === 'DELIVERED', 'DELIVERED');
      await waitFor('nothing pending', async () => (await c.metrics()).pending === 0);
      const delivered = await c.metrics();
      expect(delivered.delivered - start.delivered).toBe(1);

      status = 500;
      const failing = await c.createdEvent(await c.product('WH-METRICS'));
      await c.deliveryOf(webhook.id, failing.id, (d) => d.status === 'FAILED', 'FAILED');
      await waitFor('nothing pending', async () => (await c.metrics()).pending === 0);
      const after = await c.metrics();
      expect({
        delivered: after.delivered - start.delivered,
        retry: after.retry - start.retry,
        failed: after.failed - start.failed,
      }).toEqual({ delivered: 1, retry: MOST_ATTEMPTS - 1, failed: 1 });
    });
  });
});

describe('webhooks in production: the SSRF guard', () => {
  let t: TestApp;
  let rx: Receiver;
  const c = client(() => t);

  beforeAll(async () => {
    rx = await startReceiver();
    t = await startTestApp({
      NODE_ENV: 'production',
      WEBHOOK_RETRY_SCHEDULE: RETRY_SCHEDULE,
      WEBHOOK_ALLOWED_HOSTS: `127.0.0.1:${rx.port}, Hooks.Internal`,
    });
  });
  afterEach(() => c.deleteCreated());
  afterAll(async () => {
    await rx?.close();
    await t?.close();
  });

  const refused = [
    'http://127.0.0.1/hook',
    'http://127.0.0.1:8080/hook',
    'https://127.1/',
    'http://2130706433/',
    'http://localhost/hook',
    'http://LOCALHOST:3000/hook',
    'http://10.0.0.5/hook',
    'http://10.255.1.2:9000/hook',
    'http://172.16.0.1/',
    'http://192.168.1.10/',
    'http://169.254.169.254/latest/meta-data/',
    'http://100.64.0.1/',
    'http://0.0.0.0/',
    'http://[::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://[fd00::1]/hook',
    'http://[fe80::1]/hook',
  ];

  it('refuses loopback, private, link-local and metadata hosts with 400 VALIDATION_FAILED naming url', async () => {
    const allowed = await c.createWebhook({ url: rx.url, events: ['*'] });
    for (const url of refused) {
      const created = await t.http
        .post('/api/webhooks')
        .set(c.admin())
        .send({ url, events: ['*'] });
      expect({ url, status: created.status }).toEqual({ url, status: 400 });
      expectValidation(created, ['url']);
      const patched = await t.http.patch(`/api/webhooks/${allowed.webhook.id}`).set(c.admin()).send({ url });
      expect({ url, status: patched.status }).toEqual({ url, status: 400 });
      expectValidation(patched, ['url']);
    }
    // the allowed port only: the same host on another port is refused
    expectValidation(
      await t.http
        .post('/api/webhooks')
        .set(c.admin())
        .send({ url: `http://127.0.0.1:${rx.port + 1}/hook`, events: ['*'] }),
      ['url'],
    );
    const list = await t.http.get('/api/webhooks').set(c.admin()).expect(200);
    expect(list.body.items).toEqual([allowed.webhook]);
  });

  it('allows what WEBHOOK_ALLOWED_HOSTS lists (host:port, or a host on any port) and delivers there', async () => {
    const named = await c.createWebhook({ url: 'http://hooks.internal:8443/inventory', events: ['stock.low'] });
    expectWebhook(named.webhook, { url: 'http://hooks.internal:8443/inventory' });
    await t.http.delete(`/api/webhooks/${named.webhook.id}`).set(c.admin()).expect(204);
    const { webhook, secret } = await c.createWebhook({ url: rx.url, events: ['product.created'] });
    const event = await c.createdEvent(await c.product('PROD-SSRF'));
    const done = await c.deliveryOf(webhook.id, event.id, (d) => d.status !== 'PENDING', 'done');
    expectDelivery(done, { status: 'DELIVERED', attempts: 1, lastStatusCode: 200 });
    expect(verify(secret, rx.of(event.id)[0])).toEqual(event);
  });

  it('takes a public address', async () => {
    // an IP literal: nothing to resolve; deleted at once, before any event could be sent to it
    const res = await t.http
      .post('/api/webhooks')
      .set(c.admin())
      .send({ url: 'https://93.184.215.14/hook', events: ['stock.low'] });
    expect(res.status).toBe(201);
    await t.http
      .delete(`/api/webhooks/${(res.body as Created).webhook.id}`)
      .set(c.admin())
      .expect(204);
  });
});
