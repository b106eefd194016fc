import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { EventView } from '../src/modules/events/events.repository';
import type { MovementView } from '../src/modules/stock/stock.views';
import { AMQP_URL, BrokerConsumer, BrokerProxy } from './support/amqp';
import { localPortsOf } from './support/process-sockets';
import { loginTo } from './support/service-client';
import { ADMIN, PASSWORD, serviceEnv } from './support/service-env';
import { ServiceProcess, startServiceProcess } from './support/service-process';
import type { TestApp } from './support/test-app';
import { createTestDatabase, TestDatabase, testDbType } from './support/test-database';
import { waitFor } from './support/wait';
import { WebhookReceiver } from './support/webhook-receiver';

/**
 * Events out under load and faults (issue 11), against the contract's "Events and webhooks (v2)": the
 * feed holds exactly one stock.movement per ledger movement and none for refused writes, a client
 * following it sees every event once and in order; a receiver that is down, then failing, then well
 * gets every event, signed, per product in order; SIGKILL of a process mid-delivery and a broker
 * connection cut mid-publish lose nothing; a broker outage never blocks a stock write.
 *
 * MariaDB: two service processes on one database (round-robin, as a load balancer would). SQLite: one
 * in-process app (the feed and the receiver tests; a SQLite file has one process).
 */
const MYSQL = testDbType() === 'mysql';
const EXCHANGE = 'inventory.events';
/** What the publisher logs when its instance starts publishing (amqp-publisher.service.ts). */
const TOOK_OVER = 'Publishing events to the broker from this instance';
/** Short retries, so a receiver's outage of seconds is outlasted in a test. */
const RETRY_SCHEDULE = '0.3,0.3,0.5,0.5,1,1,1,1,1,1,1,1';

type Body = Record<string, unknown>;
interface Reply {
  status: number;
  body: Body;
}

/** A client of one deployment: an in-process app (SQLite) or service processes, requests round-robin. */
class Deployment {
  private turn = 0;
  constructor(
    readonly services: ServiceProcess[],
    readonly app?: TestApp,
  ) {}

  async call(method: string, path: string, token: string, body?: unknown, via?: ServiceProcess): Promise<Reply> {
    if (this.app) {
      const req = this.app.http[method.toLowerCase() as 'get' | 'post' | 'patch'](path).set(
        'Authorization',
        `Bearer ${token}`,
      );
      const res = await (body === undefined ? req : req.send(body as object));
      return { status: res.status, body: (res.body ?? {}) as Body };
    }
    const live = this.live();
    const service = via ?? live[this.turn++ % live.length];
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Body };
  }

  async ok(method: string, path: string, token: string, body?: unknown, status = 201): Promise<Body> {
    const res = await this.call(method, path, token, body);
    if (res.status !== status) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** Every event after `after`, following nextCursor to the end. */
  async feed(token: string, after = '0'): Promise<EventView[]> {
    const events: EventView[] = [];
    let cursor = after;
    for (;;) {
      const page = await this.ok('GET', `/api/events?after=${cursor}&limit=200`, token, undefined, 200);
      events.push(...(page.items as EventView[]));
      if ((page.items as unknown[]).length < 200) return events;
      cursor = page.nextCursor as string;
    }
  }

  /** Every movement, walking the list's cursors. */
  async movements(token: string): Promise<MovementView[]> {
    const items: MovementView[] = [];
    let cursor: string | null = null;
    do {
      const page = await this.ok(
        'GET',
        `/api/stock/movements?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        token,
        undefined,
        200,
      );
      items.push(...(page.items as MovementView[]));
      cursor = page.nextCursor as string | null;
    } while (cursor);
    return items;
  }

  /** The service processes still running. */
  live(): ServiceProcess[] {
    return this.services.filter((s) => s.child.exitCode === null && s.child.signalCode === null);
  }

  /** inventory_outbox_pending as /metrics shows it. */
  async outboxPending(token: string): Promise<number> {
    const text = this.app
      ? (await this.app.http.get('/metrics').set('Authorization', `Bearer ${token}`)).text
      : await (await fetch(`${this.live()[0].url}/metrics`, { headers: { Authorization: `Bearer ${token}` } })).text();
    const match = /^inventory_outbox_pending (\S+)$/m.exec(text);
    return match ? Number(match[1]) : NaN;
  }
}

/** The product an event belongs to, as the per-product order rule sees it. */
function productOf(event: EventView): number {
  const data = event.data as Body;
  if (event.type.startsWith('product.')) return data.id as number;
  if (event.type.startsWith('reservation.'))
    return Math.min(...(data.lines as { productId: number }[]).map((l) => l.productId));
  return data.productId as number;
}

/** Ids that occur in `ids` out of ascending order for their product (a later event before an earlier one). */
function outOfOrder(ids: string[], byId: Map<string, EventView>): string[] {
  const last = new Map<number, number>();
  const wrong: string[] = [];
  for (const id of ids) {
    const event = byId.get(id);
    if (!event) continue;
    const product = productOf(event);
    if ((last.get(product) ?? 0) > Number(id)) wrong.push(`${id} after ${last.get(product)} (product ${product})`);
    last.set(product, Math.max(last.get(product) ?? 0, Number(id)));
  }
  return wrong;
}

const count = (ids: string[]) => ids.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<string, number>());

describe(`events out under load and faults (${MYSQL ? '2 service processes on one MariaDB database' : 'SQLite, in process'})`, () => {
  let database: TestDatabase | undefined;
  let env: Record<string, string> = {};
  let d: Deployment;
  let admin: string;
  let operator: string;
  let manager: string;
  const prefix = `EVT-${randomUUID().slice(0, 8)}`;
  let skus = 0;

  async function start(extra: Record<string, string> = {}): Promise<Deployment> {
    if (MYSQL) {
      database = await createTestDatabase();
      env = serviceEnv(database, { WEBHOOK_RETRY_SCHEDULE: RETRY_SCHEDULE, ...extra });
      const first = await startServiceProcess(env); // migrates and creates the admin
      const second = await startServiceProcess(env);
      const deployment = new Deployment([first, second]);
      admin = await loginTo(first.url, ADMIN);
      for (const [username, role] of [
        ['evt-operator', 'operator'],
        ['evt-manager', 'manager'],
      ]) {
        await deployment.ok('POST', '/api/users', admin, { username, password: PASSWORD, role });
      }
      operator = await loginTo(second.url, { username: 'evt-operator', password: PASSWORD });
      manager = await loginTo(first.url, { username: 'evt-manager', password: PASSWORD });
      await deployment.ok('POST', '/api/warehouses', manager, { code: 'EAST', name: 'East' });
      return deployment;
    }
    const { startTestApp } = await import('./support/test-app');
    const app = await startTestApp({
      WEBHOOK_RETRY_SCHEDULE: RETRY_SCHEDULE,
      LOG_LEVEL: process.env.DEBUG_LOG ?? 'silent',
      ...extra,
    });
    admin = app.tokens.admin;
    operator = app.tokens.operator;
    manager = app.tokens.manager;
    const deployment = new Deployment([], app);
    await deployment.ok('POST', '/api/warehouses', manager, { code: 'EAST', name: 'East' });
    return deployment;
  }

  async function stop(): Promise<void> {
    await Promise.all(d.services.map((s) => s.stop()));
    await d.app?.close();
    await database?.drop();
    database = undefined;
  }

  async function product(reorderPoint = 0): Promise<number> {
    const body = await d.ok('POST', '/api/products', manager, {
      sku: `${prefix}-${++skus}`,
      name: 'Evented',
      reorderPoint,
    });
    return body.id as number;
  }

  /** A burst of mixed writes at once; refused ones (409) included. Returns the answers. */
  async function burst(products: number[], n: number): Promise<Reply[]> {
    return Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const productId = products[i % products.length];
        switch (i % 7) {
          case 0:
          case 1:
            return d.call('POST', '/api/stock/in', operator, { productId, quantity: 1 + (i % 5) });
          case 2:
            return d.call('POST', '/api/stock/out', operator, { productId, quantity: 1 + (i % 9) }); // some refused
          case 3:
            return d.call('POST', '/api/stock/transfer', operator, {
              productId,
              from: 'MAIN',
              to: 'EAST',
              quantity: 1,
            });
          case 4:
            return d.call('POST', '/api/stock/batch', operator, {
              type: 'OUT',
              lines: products.slice(0, 2).map((p) => ({ productId: p, quantity: 2 })),
            });
          case 5: {
            const held = await d.call('POST', '/api/stock/reservations', operator, {
              lines: [{ productId, quantity: 1 }],
            });
            if (held.status !== 201) return held;
            const id = (held.body.reservation as { id: number }).id;
            return d.call('POST', `/api/stock/reservations/${id}/${i % 2 ? 'confirm' : 'cancel'}`, operator);
          }
          default:
            return d.call('POST', '/api/stock/out', operator, { productId, quantity: 1_000_000 }); // always refused
        }
      }),
    );
  }

  describe('the feed under concurrent writes', () => {
    beforeAll(async () => {
      d = await start();
    });
    afterAll(() => stop());

    it('holds exactly one stock.movement per ledger movement, none for refused writes; a client polling with nextCursor sees every event once, in order', async () => {
      const products = [await product(3), await product(3), await product(10)];
      const start = await d.feed(manager);
      const from = start.length ? start[start.length - 1].id : '0';

      // a client follows the feed while the writes commit
      let writing = true;
      const polled: EventView[] = [];
      const poller = (async () => {
        let cursor = from;
        while (writing || (await d.feed(manager, cursor)).length) {
          const page = await d.ok('GET', `/api/events?after=${cursor}&limit=50`, manager, undefined, 200);
          polled.push(...(page.items as EventView[]));
          cursor = page.nextCursor as string;
        }
      })();
      const answers = [...(await burst(products, 140)), ...(await burst(products, 140))];
      await waitFor('every committed event placed', async () => (await d.outboxPending(admin)) === 0, 10_000);
      writing = false;
      await poller;
      const unexpected = answers.filter((a) => ![200, 201, 409].includes(a.status));
      expect(unexpected).toEqual([]);
      const refused = answers.filter((a) => a.status === 409).length;
      expect(refused).toBeGreaterThan(0);

      const events = await d.feed(manager, from);
      // the poller saw the same events, in the same order, each once: none skipped, none twice
      expect(polled.map((e) => e.id)).toEqual(events.map((e) => e.id));
      const ids = events.map((e) => Number(e.id));
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(new Set(ids).size).toBe(ids.length);

      // one stock.movement per movement of the ledger, with the movement as the ledger shows it
      const ledger = (await d.movements(operator)).filter((m) => products.includes(m.productId));
      const movementEvents = events.filter((e) => e.type === 'stock.movement').map((e) => e.data as MovementView);
      expect(movementEvents.map((m) => m.id).sort((a, b) => a - b)).toEqual(
        ledger.map((m) => m.id).sort((a, b) => a - b),
      );
      const byId = new Map(ledger.map((m) => [m.id, m]));
      for (const m of movementEvents) expect(m).toEqual(byId.get(m.id));
      // one movement's events follow its commit order: a level's balanceAfter runs on in feed order
      const balance = new Map<string, number>();
      for (const m of movementEvents) {
        const key = `${m.productId}@${m.warehouse}`;
        expect({ key, balanceAfter: m.balanceAfter }).toEqual({
          key,
          balanceAfter: (balance.get(key) ?? 0) + m.quantity,
        });
        balance.set(key, m.balanceAfter);
      }
      // stock.low and stock.restocked alternate per product, starting from low (a new product is low)
      for (const productId of products) {
        const crossings = events.filter(
          (e) => ['stock.low', 'stock.restocked'].includes(e.type) && productOf(e) === productId,
        );
        crossings.forEach((e, i) =>
          expect({ productId, i, type: e.type }).toEqual({
            productId,
            i,
            type: i % 2 ? 'stock.low' : 'stock.restocked',
          }),
        );
      }
      console.log(
        `events under load: ${answers.length} writes (${refused} refused), ${events.length} events, ${movementEvents.length} movements`,
      );
    });
  });

  describe('a webhook whose receiver is down, then failing, then well', () => {
    let receiver: WebhookReceiver;
    beforeAll(async () => {
      d = await start();
      receiver = await WebhookReceiver.start();
    });
    afterAll(async () => {
      await receiver.down();
      await stop();
    });

    it('gets every event, signed, once with a 2xx, each product in order', async () => {
      const before = await d.feed(manager);
      const created = await d.ok('POST', '/api/webhooks', admin, { url: receiver.url, events: ['*'] });
      receiver.useSecret(created.secret as string);
      const webhookId = (created.webhook as { id: number }).id;
      const products = [await product(2), await product(2)];

      await receiver.down(); // connection refused
      await burst(products, 30);
      await waitFor('attempts refused while the receiver is down', async () => {
        const page = await d.ok('GET', `/api/webhooks/${webhookId}/deliveries?status=PENDING`, admin, undefined, 200);
        return (page.items as { lastError: string | null }[]).some((x) => x.lastError !== null);
      });
      await receiver.up();
      receiver.answer = 500;
      await burst(products, 30);
      await waitFor('the receiver answering 500s', () => receiver.received.some((r) => r.answered === 500));
      receiver.answer = 200;

      // done when nothing is left in the outbox (every event placed, fanned out and delivered)
      await waitFor('every event delivered', async () => (await d.outboxPending(admin)) === 0, 30_000);
      const events = await d.feed(manager, before.length ? before[before.length - 1].id : '0');
      const done = new Set(receiver.delivered());
      expect(events.filter((e) => !done.has(e.id)).map((e) => e.id)).toEqual([]);
      const byId = new Map(events.map((e) => [e.id, e]));
      // each event answered 2xx exactly once (no crash, so no duplicate), with the feed's body and a valid signature
      expect([...count(receiver.delivered())].filter(([, n]) => n > 1)).toEqual([]);
      for (const r of receiver.received) {
        expect({ id: r.eventId, valid: r.signatureValid }).toEqual({ id: r.eventId, valid: true });
        expect(JSON.parse(r.body)).toEqual(byId.get(r.eventId));
      }
      // per product, no event was even attempted before an earlier one of that product was done
      expect(
        outOfOrder(
          receiver.received.map((r) => r.eventId),
          byId,
        ),
      ).toEqual([]);
      expect(receiver.received.some((r) => r.answered === 500)).toBe(true);
      const deliveries = await d.ok(
        'GET',
        `/api/webhooks/${webhookId}/deliveries?status=DELIVERED&limit=200`,
        admin,
        undefined,
        200,
      );
      expect((deliveries.items as unknown[]).length).toBe(Math.min(200, events.length));
    });
  });

  (MYSQL ? describe : describe.skip)('SIGKILL of a service process mid-delivery (MariaDB)', () => {
    let receiver: WebhookReceiver;
    beforeAll(async () => {
      d = await start();
      receiver = await WebhookReceiver.start();
    });
    afterAll(async () => {
      await receiver.down();
      await stop();
    });

    it('loses no event: what the killed process had taken is sent again after its lease; stock writes go on', async () => {
      const created = await d.ok('POST', '/api/webhooks', admin, { url: receiver.url, events: ['stock.movement'] });
      receiver.useSecret(created.secret as string);
      receiver.delayMs = 3000; // the first deliveries are held: in flight when the process dies, however slow the machine
      const products = [await product(), await product(), await product(), await product()];
      const unanswered = (ports: Set<number>) =>
        receiver.received.filter((r) => r.answered === 0 && ports.has(r.remotePort)).map((r) => r.eventId);
      await burst(products, 60);
      // whichever process has deliveries in flight is killed
      let victim: ServiceProcess | undefined;
      await waitFor(
        'deliveries in flight',
        () => (victim = d.services.find((s) => unanswered(localPortsOf(s.child.pid!)).length > 0)) !== undefined,
        10_000,
      );
      const ports = localPortsOf(victim!.child.pid!);
      victim!.child.kill('SIGKILL');
      await waitFor('the process gone', () => victim!.child.signalCode !== null);
      receiver.delayMs = 0;
      await waitFor('its requests cut off', () => receiver.inFlight === 0);
      const cutOff = unanswered(ports); // sent by it, never answered: it died waiting
      expect(cutOff.length).toBeGreaterThan(0);
      // the deployment keeps taking writes on the survivor
      const after = await burst(products, 20);
      expect(after.filter((a) => ![200, 201, 409].includes(a.status))).toEqual([]);

      const movements = (await d.feed(manager)).filter((e) => e.type === 'stock.movement');
      await waitFor(
        'every movement delivered at least once (the cut-off ones once their lease ran out)',
        () => {
          const done = new Set(receiver.delivered());
          return movements.every((e) => done.has(e.id));
        },
        40_000,
      );
      const duplicates = [...count(receiver.delivered())].filter(([, n]) => n > 1);
      console.log(
        `SIGKILL mid-delivery: ${cutOff.length} delivery(ies) of the killed process cut off and sent again; ` +
          `${duplicates.length} event(s) answered 2xx twice; ${movements.length} delivered`,
      );
      // at least once, and duplicates only from the crash: at most what one process takes at once
      expect(duplicates.length).toBeLessThanOrEqual(32);
      expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
      expect(outOfOrder(receiver.delivered(), new Map(movements.map((e) => [e.id, e])))).toEqual([]);
      await waitFor('nothing left in the outbox', async () => (await d.outboxPending(admin)) === 0, 20_000);
    });
  });

  (MYSQL ? describe : describe.skip)(
    'RabbitMQ (EVENTS_AMQP_URL), with the broker connection cut and the broker away (MariaDB)',
    () => {
      let proxy: BrokerProxy;
      let consumer: BrokerConsumer;
      beforeAll(async () => {
        proxy = await BrokerProxy.start();
        consumer = await BrokerConsumer.start(EXCHANGE, (body) => body.includes(prefix));
        d = await start({ EVENTS_AMQP_URL: proxy.url });
      });
      afterAll(async () => {
        await stop();
        await consumer.close();
        await proxy.pause();
      });

      it('publishes every event at least once (persistent, routing key = type, in order per product); a broker outage never blocks a stock write', async () => {
        expect(AMQP_URL).toMatch(/^amqp/);
        const products = [await product(2), await product(2), await product(2)];
        // the connection cut mid-publish: the broker has the messages, the service never got their confirms
        await burst(products, 40);
        await waitFor('publishing under way', () => consumer.messages.length > 0, 10_000);
        // caught up first: a batch whose confirms were already on the way would wait for them forever
        await waitFor('every event so far confirmed', async () => (await d.outboxPending(admin)) === 0, 20_000);
        proxy.holdReplies = true;
        const published = consumer.messages.length;
        await burst(products, 40);
        await waitFor('messages at the broker, unconfirmed', () => consumer.messages.length > published, 10_000);
        proxy.cut();
        proxy.holdReplies = false;

        // the broker away: writes still commit at once; the backlog waits in the outbox
        await proxy.pause();
        const during = await burst(products, 40);
        expect(during.filter((a) => ![200, 201, 409].includes(a.status))).toEqual([]);
        await waitFor('a backlog while the broker is away', async () => (await d.outboxPending(admin)) > 0, 10_000);
        await proxy.resume();

        // the process publishing (the one that holds the lease) is killed mid-publish; the other takes over
        const publisher = d.services.find((s) => readFileSync(s.logFile, 'utf8').includes(TOOK_OVER))!;
        const standby = d.services.find((s) => s !== publisher)!;
        const reconnects = proxy.connections;
        const load2 = burst(products, 60);
        await waitFor('publishing again', () => proxy.connections > reconnects, 30_000);
        publisher.child.kill('SIGKILL');
        await load2.catch(() => undefined);
        await waitFor(
          'the other process took over',
          () => readFileSync(standby.logFile, 'utf8').includes(TOOK_OVER),
          30_000,
        );

        const events = (await d.feed(manager)).filter((e) => e.id && JSON.stringify(e).includes(prefix));
        await waitFor(
          'every event published',
          () => {
            const seen = new Set(consumer.messages.map((m) => m.messageId));
            return events.every((e) => seen.has(e.id));
          },
          40_000,
        );
        const byId = new Map(events.map((e) => [e.id, e]));
        for (const m of consumer.messages) {
          const event = byId.get(m.messageId);
          if (!event) continue; // published while the test's feed read was older
          expect({
            id: m.messageId,
            key: m.routingKey,
            persistent: m.persistent,
            body: JSON.parse(m.body) as unknown,
          }).toEqual({
            id: event.id,
            key: event.type,
            persistent: true,
            body: event,
          });
        }
        // each product's events first reach the queue in event order
        const firsts = [...new Map(consumer.messages.map((m) => [m.messageId, m])).keys()];
        expect(outOfOrder(firsts, byId)).toEqual([]);
        const again = [...count(consumer.messages.map((m) => m.messageId))].filter(([, n]) => n > 1).length;
        console.log(
          `RabbitMQ: ${events.length} events, each published; ${again} published more than once (cut or crash)`,
        );
        expect(again).toBeGreaterThan(0); // the unconfirmed batch was sent again
      });
    },
  );
});
