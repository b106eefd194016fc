/**
 * EVENTS_DISPATCH=false: an instance that writes and places events but sends none, so that API instances
 * can leave webhooks (and RabbitMQ) to a dedicated events instance. Alone it sends nothing; once an
 * instance with the default starts on the same database, every event reaches the webhook, signed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventView } from '../src/modules/events/events.repository';
import { startServiceProcess, ServiceProcess } from './support/service-process';
import { bearer, startTestApp, TestApp } from './support/test-app';
import { waitFor } from './support/wait';
import { WebhookReceiver } from './support/webhook-receiver';

/** Four of the sending side's 250 ms polls: long enough that a sending instance would have sent. */
const QUIET_MS = 1_000;

describe('EVENTS_DISPATCH=false: an instance that leaves sending to others', () => {
  let app: TestApp;
  let receiver: WebhookReceiver;
  let sender: ServiceProcess | undefined;

  beforeAll(async () => {
    app = await startTestApp({ EVENTS_DISPATCH: 'false' });
    receiver = await WebhookReceiver.start();
  });
  afterAll(async () => {
    await sender?.stop();
    await receiver.down();
    await app.close();
  });

  it('places events but sends none; an instance with the default sends every one of them, signed', async () => {
    const created = await app.http
      .post('/api/webhooks')
      .set(bearer(app.tokens.admin))
      .send({ url: receiver.url, events: ['*'] })
      .expect(201);
    receiver.useSecret(created.body.secret);
    const product = await app.http
      .post('/api/products')
      .set(bearer(app.tokens.manager))
      .send({ sku: 'DISPATCH-1', name: 'Sent elsewhere' })
      .expect(201);
    await app.http
      .post('/api/stock/in')
      .set(bearer(app.tokens.operator))
      .send({ productId: product.body.id, quantity: 3 })
      .expect(201);

    // placed in the feed by this instance (its sequencer runs), yet nothing goes out
    let feed: EventView[] = [];
    await waitFor('the three events in the feed', async () => {
      const res = await app.http.get('/api/events').set(bearer(app.tokens.admin)).expect(200);
      feed = res.body.items as EventView[];
      return feed.length >= 3;
    });
    expect(feed.map((e) => e.type)).toEqual(['product.created', 'stock.movement', 'stock.restocked']);
    await sleep(QUIET_MS);
    expect(receiver.received).toEqual([]);

    // a second instance on the same database, with the default, sends them
    sender = await startServiceProcess({
      ...app.database.env,
      JWT_SECRET: process.env.JWT_SECRET!,
      WEBHOOK_ALLOWED_HOSTS: new URL(receiver.url).host,
      EVENTS_DISPATCH: 'true', // the default, said: the app under test set this process's environment
    });
    await waitFor('every event delivered', async () => receiver.received.length >= feed.length);
    expect(receiver.received.map((r) => ({ eventId: r.eventId, signatureValid: r.signatureValid }))).toEqual(
      feed.map((e) => ({ eventId: e.id, signatureValid: true })),
    );
  });
});
