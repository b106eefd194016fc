import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { MetricsService } from '../../common/metrics/metrics.service';
import { SingleFlight } from '../../common/single-flight';
import { TransactionService } from '../../database/transaction.service';
import { TypedConfigService } from '../../config';
import { EventSequencer } from './event-sequencer.service';
import { EventsRepository } from './events.repository';
import { OutboxCursorsRepository } from './outbox-cursors.repository';
import { OutboxMetrics } from './outbox-metrics';

export const EXCHANGE = 'inventory.events';
/** The broker's cursor in outbox_cursors. */
export const BROKER_CURSOR = 'amqp';
const BATCH = 500;
/** One instance publishes; another takes over this long after it stops renewing (it died). */
const LEASE_MS = 10_000;
const POLL_MS = 250;
const MAX_BACKOFF_MS = 30_000;
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Publishes every event to RabbitMQ when EVENTS_AMQP_URL is set: topic exchange `inventory.events`,
 * routing key = event type, persistent messages, publisher confirms. It follows the feed with a cursor
 * in the database: a batch counts as published — and the cursor moves past it — only once the broker
 * has confirmed all of it. A broker outage delays publishing (reconnect with growing, jittered delays)
 * and never blocks a stock write, which only writes the outbox; a crash or a lost connection
 * mid-batch publishes that batch again (at least once: consumers dedupe by message id = event id).
 * One instance publishes at a time, holding a lease on the cursor; the others stand by.
 */
@Injectable()
export class AmqpPublisher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AmqpPublisher.name);
  private readonly url: string | null;
  private readonly owner = randomUUID();
  private connection: ChannelModel | null = null;
  private channel: ConfirmChannel | null = null;
  /** The cursor while this instance holds its lease: renewed in the database only past half its time. */
  private held: { position: number; until: number } | null = null;
  private failures = 0;
  private retryAt = 0;
  private timer?: NodeJS.Timeout;
  private readonly runs = new SingleFlight(() => this.publishAll());

  constructor(
    private readonly events: EventsRepository,
    private readonly cursors: OutboxCursorsRepository,
    private readonly tx: TransactionService,
    private readonly metrics: MetricsService,
    private readonly sequencer: EventSequencer,
    private readonly outboxMetrics: OutboxMetrics,
    config: TypedConfigService,
  ) {
    const { amqpUrl, dispatch } = config.getOrThrow('events', { infer: true });
    this.url = dispatch ? amqpUrl : null; // EVENTS_DISPATCH=false: another instance publishes
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.url) return;
    // the first instance with a broker starts publishing from the events that come next
    const last = await this.events.lastPosition();
    await this.tx.runInline((tx) => tx.commitWith([this.cursors.create(BROKER_CURSOR, last)]));
    this.outboxMetrics.brokerBacklog = async () =>
      Math.max(0, (await this.events.lastPosition()) - ((await this.cursors.position(BROKER_CURSOR)) ?? 0));
    this.sequencer.onPlaced(() => this.kick());
    this.timer = setInterval(() => this.kick(), POLL_MS);
    this.timer.unref();
    this.kick();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.runs.stop();
    await this.disconnect();
  }

  kick(): void {
    if (this.url) this.runs.request();
  }

  /** Publishes what the feed holds past the cursor, batch by batch, while this instance holds the lease. */
  private async publishAll(): Promise<void> {
    try {
      for (;;) {
        const from =
          this.held && this.held.until - Date.now() > LEASE_MS / 2 ? this.held.position : await this.takeLease();
        if (from === null) return; // another instance publishes
        const batch = await this.events.wireFeed(from, BATCH);
        if (!batch.length) return;
        const channel = await this.connected();
        if (!channel) return;
        // one socket write for the batch instead of one per message (measured: socket writes were most
        // of the publisher's CPU); amqplib's channel mux writes on a later tick, before setImmediate
        const socket = (this.connection as unknown as { connection?: { stream?: Writable } } | null)?.connection
          ?.stream;
        socket?.cork();
        setImmediate(() => socket?.uncork());
        for (const event of batch) {
          channel.publish(EXCHANGE, event.type, Buffer.from(event.json), {
            persistent: true,
            contentType: 'application/json',
            messageId: String(event.position),
            type: event.type,
            timestamp: Math.floor(event.occurredAt.getTime() / 1000),
          });
        }
        await channel.waitForConfirms(); // rejects if the broker nacks or the connection drops: sent again
        const last = batch[batch.length - 1].position;
        await this.tx.runInline((tx) => tx.commitWith([this.cursors.advance(BROKER_CURSOR, this.owner, last)]));
        if (this.held) this.held.position = last;
        this.metrics.eventsPublished.inc(batch.length);
        if (batch.length < BATCH) return;
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'Publishing events to the broker failed; they are sent again');
      this.held = null;
      await this.disconnect();
      this.backOff();
    }
  }

  /** The cursor's position if this instance holds (or now takes) the lease, else null. */
  private takeLease(): Promise<number | null> {
    return this.tx.runInline(async (tx) => {
      const [cursor] = await tx.query([this.cursors.lock(BROKER_CURSOR)]);
      const now = Date.now();
      if (!cursor) return null;
      this.held = null;
      const free =
        cursor.leaseOwner === null || cursor.leaseOwner === this.owner || (cursor.leaseUntil?.getTime() ?? 0) < now;
      if (!free) return null;
      await tx.commitWith([this.cursors.lease(BROKER_CURSOR, this.owner, new Date(now + LEASE_MS))]);
      this.held = { position: cursor.position, until: now + LEASE_MS };
      if (cursor.leaseOwner !== this.owner) {
        this.logger.log({ position: cursor.position }, 'Publishing events to the broker from this instance');
      }
      return cursor.position;
    });
  }

  /** The confirm channel, connecting when there is none (not before the back-off delay has passed). */
  private async connected(): Promise<ConfirmChannel | null> {
    if (this.channel) return this.channel;
    if (Date.now() < this.retryAt) return null;
    // loaded by the first connection: without EVENTS_AMQP_URL nothing needs amqplib
    const { connect } = await import('amqplib');
    const connection = await connect(this.url!, {
      timeout: CONNECT_TIMEOUT_MS,
      clientProperties: { connection_name: 'inventory-service' },
    });
    const drop = () => {
      if (this.connection === connection) {
        this.connection = null;
        this.channel = null;
      }
    };
    connection.on('error', (error: Error) => this.logger.warn({ err: error }, 'Broker connection error'));
    connection.on('close', drop);
    const channel = await connection.createConfirmChannel();
    channel.on('error', (error: Error) => this.logger.warn({ err: error }, 'Broker channel error'));
    channel.on('close', drop);
    await channel.assertExchange(EXCHANGE, 'topic', { durable: true });
    this.connection = connection;
    this.channel = channel;
    this.failures = 0;
    this.logger.log('Connected to the message broker');
    return channel;
  }

  /** The next connection attempt waits 0.5 s, 1 s, 2 s … up to 30 s, with jitter. */
  private backOff(): void {
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.failures++);
    this.retryAt = Date.now() + delay / 2 + Math.random() * (delay / 2);
  }

  private async disconnect(): Promise<void> {
    const connection = this.connection;
    this.connection = null;
    this.channel = null;
    await connection?.close().catch(() => undefined);
  }
}
