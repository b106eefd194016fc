/**
 * The outbox's retention (EVENTS_RETENTION_DAYS, 7 by default; the contract keeps events 7 days at
 * least): a purge deletes finished deliveries and events past the retention, but never an event a
 * destination still needs — one a kept delivery refers to (a FAILED one can be retried by hand), one
 * past a publishing broker's cursor — nor the newest, nor anything younger. Times are moved back in the
 * database rather than waited for; the purge is called as its 10-minute timer would.
 */
import type { EventView } from '../src/modules/events/events.repository';
import type { DeliveryView } from '../src/modules/events/webhooks/dto/webhook.dto';
import { sqlDateTime } from '../src/database/dialect';
import { EventRetention } from '../src/modules/events/event-retention.service';
import { bearer, startTestApp, TestApp } from './support/test-app';
import { waitFor } from './support/wait';
import { WebhookReceiver } from './support/webhook-receiver';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('event retention', () => {
  let t: TestApp;
  let receiver: WebhookReceiver;
  let webhookId: number;

  const admin = () => bearer(t.tokens.admin);
  const feed = async (): Promise<EventView[]> => {
    const items: EventView[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await t.http
        .get('/api/events')
        .query({ limit: 200, ...(after ? { after } : {}) })
        .set(admin())
        .expect(200);
      items.push(...(page.body.items as EventView[]));
      if (page.body.items.length < 200) return items;
      after = page.body.nextCursor as string;
    }
  };
  const deliveries = async (): Promise<DeliveryView[]> =>
    (await t.http.get(`/api/webhooks/${webhookId}/deliveries`).query({ limit: 200 }).set(admin()).expect(200)).body
      .items as DeliveryView[];
  const stockIn = (sku: string) => t.http.post('/api/stock/in').set(admin()).send({ sku, quantity: 1 }).expect(201);
  /** Every event placed in the feed, so each has its position. */
  const placed = (count: number) => waitFor(`${count} events in the feed`, async () => (await feed()).length === count);
  const purge = (now = new Date()) => t.app.get(EventRetention).purge(now);
  /** A time as a parameter of raw SQL on either driver (better-sqlite3 binds no Date). */
  const sqlTime = (msAgo: number) => sqlDateTime(new Date(Date.now() - msAgo));
  const age = (table: 'events' | 'webhook_deliveries', column: string, days: number) =>
    t.dataSource.query(`UPDATE ${table} SET ${column} = ?`, [sqlTime(days * DAY_MS)]);

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    t = await startTestApp({ WEBHOOK_RETRY_SCHEDULE: '0.2' });
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.down();
  });

  it('keeps young events, and old ones a kept delivery still refers to; purges the rest but the newest', async () => {
    // before the webhook: events nobody delivers
    await t.http.post('/api/products').set(admin()).send({ sku: 'RET-A', name: 'Kept a while' }).expect(201);
    await stockIn('RET-A');
    await stockIn('RET-A');
    const beforeWebhook = 4; // product.created, stock.movement, stock.restocked (above reorderPoint 0), stock.movement
    await placed(beforeWebhook);
    const created = await t.http
      .post('/api/webhooks')
      .set(admin())
      .send({ url: receiver.url, events: ['*'] })
      .expect(201);
    webhookId = created.body.webhook.id as number;
    receiver.useSecret(created.body.secret as string);
    await stockIn('RET-A');
    await stockIn('RET-A');
    await waitFor(
      'two deliveries',
      async () => (await deliveries()).filter((d) => d.status === 'DELIVERED').length === 2,
    );
    receiver.answer = 500; // the next one fails for good (one retry, then FAILED)
    await stockIn('RET-A');
    await placed(beforeWebhook + 3);
    await waitFor('every delivery finished', async () => {
      const all = await deliveries();
      return all.length === 3 && all.every((d) => d.status !== 'PENDING');
    });
    const failed = (await deliveries()).find((d) => d.status === 'FAILED')!;
    expect(failed).toBeDefined();

    // nothing is old yet, and 6 days old is within the 7 the contract keeps
    expect(await purge()).toEqual({ deliveries: 0, events: 0 });
    await age('events', 'occurred_at', 6);
    await age('webhook_deliveries', 'created_at', 6);
    expect(await purge()).toEqual({ deliveries: 0, events: 0 });
    expect((await feed()).length).toBe(beforeWebhook + 3);

    // the events are 8 days old, the deliveries are not: only what no delivery refers to goes
    await age('events', 'occurred_at', 8);
    expect(await purge()).toEqual({ deliveries: 0, events: beforeWebhook });
    const kept = await feed();
    expect(kept.map((e) => e.id)).toEqual(
      (await deliveries()).map((d) => d.eventId).sort((a, b) => Number(a) - Number(b)),
    );
    // so a FAILED delivery can still be sent again by hand
    receiver.answer = 200;
    await t.http.post(`/api/webhooks/${webhookId}/deliveries/${failed.id}/retry`).set(admin()).expect(202);
    await waitFor('the retried delivery', async () => (await deliveries()).every((d) => d.status === 'DELIVERED'));
    expect(receiver.received.filter((r) => r.eventId === failed.eventId && r.answered === 200)).toHaveLength(1);

    // the deliveries are old too: two days earlier (a 9-day cutoff) they would be kept
    await age('webhook_deliveries', 'created_at', 8);
    expect(await purge(new Date(Date.now() - 2 * DAY_MS))).toEqual({ deliveries: 0, events: 0 });
    // at 7 they go, and every event but the newest
    expect(await purge()).toEqual({ deliveries: 3, events: 2 });
    expect(await deliveries()).toEqual([]);
    expect((await feed()).map((e) => e.id)).toEqual([kept[2].id]);
  });

  it("keeps what a publishing broker has not confirmed, until it stops publishing for the retention's length", async () => {
    await t.http.patch(`/api/webhooks/${webhookId}`).set(admin()).send({ enabled: false }).expect(200);
    const first = (await feed()).length;
    for (let i = 0; i < 4; i++) await stockIn('RET-A');
    await placed(first + 4);
    const events = await feed();
    await age('events', 'occurred_at', 8);
    // another instance publishes to RabbitMQ and has confirmed up to the second of the four
    const confirmed = Number(events[first + 1].id);
    await t.dataSource.query('DELETE FROM outbox_cursors');
    await t.dataSource.query(
      'INSERT INTO outbox_cursors (name, position, lease_owner, lease_until) VALUES (?, ?, ?, ?)',
      ['amqp', confirmed, 'another-instance', sqlTime(-10_000)],
    );
    expect(await purge()).toEqual({ deliveries: 0, events: first + 2 });
    expect((await feed()).map((e) => e.id)).toEqual(events.slice(first + 2).map((e) => e.id));
    // nobody has held the broker's cursor for 8 days: it no longer holds events back (the newest stays)
    await t.dataSource.query('UPDATE outbox_cursors SET lease_until = ?', [sqlTime(8 * DAY_MS)]);
    expect(await purge()).toEqual({ deliveries: 0, events: 1 });
    expect((await feed()).map((e) => e.id)).toEqual([events[first + 3].id]);
  });

  it('keeps what an enabled webhook has not fanned out yet', async () => {
    await t.http.patch(`/api/webhooks/${webhookId}`).set(admin()).send({ enabled: true }).expect(200);
    const before = (await feed()).length;
    await stockIn('RET-A');
    await stockIn('RET-A');
    await placed(before + 2);
    const events = await feed();
    await waitFor('two deliveries', async () => (await deliveries()).length === 2);
    // as if the webhook's fan-out were behind: its cursor before the newest two
    await t.dataSource.query('DELETE FROM webhook_deliveries');
    await t.dataSource.query('UPDATE webhooks SET event_cursor = ?', [Number(events[before].id) - 1]);
    await age('events', 'occurred_at', 8);
    expect(await purge()).toEqual({ deliveries: 0, events: before });
    expect((await feed()).map((e) => e.id)).toEqual(events.slice(before).map((e) => e.id));
  });
});
