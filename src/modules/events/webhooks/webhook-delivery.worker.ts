import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { SingleFlight } from '../../../common/single-flight';
import { Transaction } from '../../../database/transaction';
import { TransactionService } from '../../../database/transaction.service';
import { TypedConfigService } from '../../../config';
import { EventSequencer } from '../event-sequencer.service';
import { EventsRepository, WireEvent } from '../events.repository';
import { signatureHeaders } from './signing';
import { loadUndici } from './url-guard';
import { Candidate, DeliveryOutcome, NewDelivery, WebhooksRepository } from './webhooks.repository';
import { WebhookSecurity } from './webhook-security';

/** A receiver has this long to answer 2xx (the contract's 10 s). */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** A taken delivery falls due again after this if its worker never records an outcome (it died). */
const LEASE_MS = DELIVERY_TIMEOUT_MS + 5_000;
/** Deliveries one instance sends at once. */
const MOST_IN_FLIGHT = 32;
const POLL_MS = 250;

type Target = { url: string; sealedSecret: string };

/** Deliveries taken, with the events they send and the webhooks they go to. */
interface Claimed {
  /** With `attempts` counting the one about to be made (the lease counted it). */
  taken: Candidate[];
  events: Map<number, WireEvent>;
  targets: Map<number, Target>;
}

const NOTHING: Claimed = { taken: [], events: new Map(), targets: new Map() };

/** Events read per fan-out transaction, and the PENDING deliveries a webhook may have before fan-out waits. */
const FAN_OUT_BATCH = 500;
const FAN_OUT_WINDOW = 1000;

/** Each delivery waits for its products that have an older PENDING delivery: `pending`, or an earlier one here. */
function inProductOrder(deliveries: Omit<NewDelivery, 'waits'>[], pending: Set<string>): NewDelivery[] {
  return deliveries.map((d) => {
    const keys = d.products.map((p) => `${d.webhookId}:${p}`);
    const waits = keys.filter((k) => pending.has(k)).length;
    for (const k of keys) pending.add(k);
    return { ...d, waits };
  });
}

/**
 * Sends PENDING webhook deliveries, on every instance. A delivery is taken in a short transaction
 * (`FOR UPDATE SKIP LOCKED`: two instances never take the same one) that counts the attempt and leases
 * it — should this process die mid-send, it falls due again after the lease: at least once. A delivery
 * is only taken when it waits for no older PENDING one of its products (`waits` = 0), so each product's
 * events reach a webhook in order. A 2xx within 10 s is DELIVERED; anything else is retried on the
 * schedule (WEBHOOK_RETRY_SCHEDULE), and FAILED after the last retry.
 */
@Injectable()
export class WebhookDeliveryWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WebhookDeliveryWorker.name);
  private readonly schedule: number[];
  private timer?: NodeJS.Timeout;
  private readonly runs = new SingleFlight(() => this.claimAndSend());
  /** New events were placed (or the poll came round): fan them out before the next claim. */
  private fanOutDue = true;
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;
  /** Opened secrets by their sealed form: unsealing (AES-GCM) once per webhook, not once per delivery. */
  private readonly secrets = new Map<string, string>();
  /** EVENTS_DISPATCH=false: other instances send; this one never polls or claims. */
  private readonly dispatch: boolean;

  constructor(
    private readonly deliveries: WebhooksRepository,
    private readonly events: EventsRepository,
    private readonly security: WebhookSecurity,
    private readonly tx: TransactionService,
    private readonly metrics: MetricsService,
    sequencer: EventSequencer,
    config: TypedConfigService,
  ) {
    const { retryScheduleSeconds, dispatch } = config.getOrThrow('events', { infer: true });
    this.schedule = retryScheduleSeconds;
    this.dispatch = dispatch;
    sequencer.onPlaced(() => {
      this.fanOutDue = true;
      this.kick();
    });
  }

  onApplicationBootstrap(): void {
    if (!this.dispatch) return;
    this.timer = setInterval(() => {
      this.fanOutDue = true;
      this.kick();
    }, POLL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.runs.stop();
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  /** Takes and sends what is due, as far as free slots allow. */
  kick(): void {
    if (this.dispatch) this.runs.request();
  }

  private async claimAndSend(): Promise<void> {
    if (this.fanOutDue) {
      this.fanOutDue = false;
      await this.fanOutAll().catch((error: unknown) =>
        this.logger.warn({ err: error }, 'Could not fan events out to webhooks; the next poll retries'),
      );
    }
    const free = MOST_IN_FLIGHT - this.inFlight.size;
    if (free <= 0) return;
    try {
      this.launch(await this.claim(free));
    } catch (error) {
      this.logger.warn({ err: error }, 'Could not take webhook deliveries; the next poll retries');
    }
  }

  /**
   * Sends what was taken. Each send records its outcome and may come back with the deliveries it freed
   * (its products' next events), already taken: those go out at once, without a claim of their own — a
   * hot product's events flow one after another at three round trips each.
   */
  private launch(claimed: Claimed): void {
    for (const delivery of claimed.taken) {
      const target = claimed.targets.get(delivery.webhookId);
      const event = claimed.events.get(delivery.eventPosition);
      if (!target || !event || this.stopped) continue; // deleted meanwhile, or shutting down: the lease runs out
      const sending: Promise<void> = this.send(delivery, target, event.json)
        .then((next) => {
          if (next.taken.length) this.launch(next);
          else this.kick(); // a slot is free: other products' deliveries may be due
        })
        .catch((error: unknown) => this.logger.warn({ err: error }, 'Could not record a webhook delivery'))
        .finally(() => this.inFlight.delete(sending));
      this.inFlight.add(sending);
    }
  }

  /**
   * Gives each enabled webhook deliveries for its next events, as far as its window allows. Deliveries are
   * made as they drain, not when events commit: a webhook far behind (a hot product goes out one event
   * at a time) holds a window of rows, not its whole backlog, and the commit path pays nothing for it.
   */
  private async fanOutAll(): Promise<void> {
    for (const id of await this.deliveries.enabledIds()) {
      while ((await this.fanOut(id)) === FAN_OUT_BATCH) {
        // a full batch: there may be more
      }
    }
  }

  /** One batch of a webhook's next events made deliveries, in position order; how many events it read. */
  private fanOut(id: number): Promise<number> {
    return this.tx.runInline(async (tx) => {
      const [webhook, full] = await tx.query([
        this.deliveries.lockForFanOut(id),
        this.deliveries.windowFull(id, FAN_OUT_WINDOW),
      ]);
      if (!webhook?.enabled || full) return 0; // another instance is at it, or gone, disabled, or far enough ahead
      const [events] = await tx.query([this.events.placedAfter(webhook.eventCursor, FAN_OUT_BATCH)]);
      if (!events.length) return 0;
      const wanted = events.filter((e) => webhook.events.includes('*') || webhook.events.includes(e.type));
      const deliveries = wanted.map((e) => ({
        webhookId: id,
        eventPosition: e.position,
        eventType: e.type,
        products: e.products.length ? e.products : [0], // an event of no product is of "product 0"
      }));
      let ordered: NewDelivery[] = [];
      if (deliveries.length) {
        const [pending] = await tx.query([
          this.deliveries.pendingProducts([id], [...new Set(deliveries.flatMap((d) => d.products))]),
        ]);
        ordered = inProductOrder(deliveries, pending);
      }
      await tx.commitWith([
        ...(ordered.length ? this.deliveries.insertDeliveries(ordered, new Date()) : []),
        this.deliveries.advanceCursor(id, events[events.length - 1].position),
      ]);
      return events.length;
    });
  }

  /** Takes up to `limit` due deliveries that wait for no older one, with what to send and where. */
  private claim(limit: number): Promise<Claimed> {
    return this.tx.runInline(
      async (tx) => {
        const now = new Date();
        const [due] = await tx.query([this.deliveries.lockDue(now, limit)]);
        return this.take(tx, due, now);
      },
      { readCommitted: true },
    );
  }

  /** Leases locked deliveries and reads what to send where, with COMMIT: one round trip. */
  private async take(tx: Transaction, due: Candidate[], now: Date): Promise<Claimed> {
    if (!due.length) {
      await tx.commit();
      return NOTHING;
    }
    const [, events, targets] = await tx.commitWith([
      this.deliveries.lease(
        due.map((d) => d.id),
        new Date(now.getTime() + LEASE_MS),
      ),
      this.events.wireByPositions(due.map((d) => d.eventPosition)),
      this.deliveries.targets([...new Set(due.map((d) => d.webhookId))]),
    ]);
    return {
      taken: due.map((d) => ({ ...d, attempts: d.attempts + 1 })),
      events: events as Map<number, WireEvent>,
      targets: targets as Map<number, Target>,
    };
  }

  /**
   * Records an attempt's outcome — unless the lease ran out and another worker took the delivery since:
   * then that worker's outcome counts. A delivery done (DELIVERED or FAILED) releases the next delivery of
   * each of its products, and takes those now free to go (returned, to send at once). Under a shared lock
   * on the webhook, so that its fan-out, which counts what new deliveries wait for, never sees a release
   * half-done.
   */
  private record(delivery: Candidate, outcome: DeliveryOutcome): Promise<Claimed> {
    return this.tx.runInline(async (tx) => {
      const update = this.deliveries.recordOutcome(delivery, outcome);
      if (outcome.status === 'PENDING') {
        await tx.commitWith([update]);
        return NOTHING;
      }
      const [, , state, next] = await tx.query([
        this.deliveries.shareLock(delivery.webhookId),
        update,
        this.deliveries.stateOf(delivery.id),
        this.deliveries.nextOfEachProduct(delivery.webhookId, delivery.eventPosition),
      ]);
      if (state?.attempts !== delivery.attempts || state.status === 'PENDING') return NOTHING; // not ours to record
      const release = this.deliveries.release(delivery.webhookId, delivery.eventPosition, next);
      if (!next.length) {
        await tx.commitWith(release);
        return NOTHING;
      }
      const now = new Date();
      const results = await tx.query([...release, this.deliveries.lockReleased(delivery.webhookId, next, now)]);
      return this.take(tx, results[release.length] as Candidate[], now);
    });
  }

  private secretOf(webhook: Target): string {
    const known = this.secrets.get(webhook.sealedSecret);
    if (known !== undefined) return known;
    try {
      const secret = this.security.box.open(webhook.sealedSecret);
      if (this.secrets.size >= 1000) this.secrets.clear(); // webhooks come and go: never grows without bound
      this.secrets.set(webhook.sealedSecret, secret);
      return secret;
    } catch {
      throw new Error(
        'the signing secret cannot be unsealed: WEBHOOK_SECRET_KEY (or JWT_SECRET) changed since it was made',
      );
    }
  }

  /** One attempt: POST, then DELIVERED, or the next retry, or FAILED; what it freed to send next. */
  private async send(delivery: Candidate, webhook: Target, body: string): Promise<Claimed> {
    const eventId = String(delivery.eventPosition);
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      const url = new URL(webhook.url);
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'inventory-service-webhooks',
        ...signatureHeaders(this.secretOf(webhook), eventId, body, new Date()),
      };
      const { request } = await loadUndici();
      const res = await request(url, {
        method: 'POST',
        headers,
        body,
        dispatcher: await this.security.guard.agentFor(url),
        signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
        headersTimeout: DELIVERY_TIMEOUT_MS,
        bodyTimeout: DELIVERY_TIMEOUT_MS,
      });
      statusCode = res.statusCode;
      await res.body.dump().catch(() => undefined);
      if (statusCode < 200 || statusCode > 299) error = `HTTP ${statusCode}`;
    } catch (failure) {
      error = describe(failure);
    }
    const now = new Date();
    if (error === null) {
      this.metrics.webhookDeliveries.inc({ outcome: 'delivered' });
      return this.record(delivery, {
        status: 'DELIVERED',
        statusCode,
        error: null,
        nextAttemptAt: null,
        deliveredAt: now,
      });
    }
    const delay = this.schedule[delivery.attempts - 1];
    this.metrics.webhookDeliveries.inc({ outcome: delay === undefined ? 'failed' : 'retry' });
    return this.record(delivery, {
      status: delay === undefined ? 'FAILED' : 'PENDING',
      statusCode,
      error,
      nextAttemptAt: delay === undefined ? null : new Date(now.getTime() + delay * 1000),
      deliveredAt: null,
    });
  }
}

/** Why an attempt got no answer, in a few words (never a stack). */
function describe(error: unknown): string {
  const e = error as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') {
    return `no answer within ${DELIVERY_TIMEOUT_MS / 1000} s`;
  }
  const code = e.code ?? e.cause?.code;
  const message = e.message ?? e.cause?.message ?? 'request failed';
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
