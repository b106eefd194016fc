import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The service's Prometheus registry and the families the contract names. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route template',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration, by route template',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly stockMovements = new Counter({
    name: 'inventory_stock_movements_total',
    help: 'Stock movements committed, by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly stockRejections = new Counter({
    name: 'inventory_stock_rejections_total',
    help: 'Stock writes refused, by reason (error code)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly stockTransactionDuration = new Histogram({
    name: 'inventory_stock_transaction_duration_seconds',
    help: 'Time a stock write took until COMMIT: waiting for its group, locks and retries included',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly groupWrites = new Histogram({
    name: 'inventory_stock_group_writes',
    help: 'Stock writes applied in one transaction (group commit), refused ones included',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });
  readonly lockWait = new Histogram({
    name: 'inventory_stock_lock_wait_seconds',
    help: 'Time a stock transaction (one group of writes) waited to obtain its row locks',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3],
    registers: [this.registry],
  });
  /** Where pool counts come from; set by the database layer (PoolMetrics). */
  poolSnapshot: () => Record<'open' | 'idle' | 'waiting', number> = () => ({ open: 0, idle: 0, waiting: 0 });
  readonly poolConnections = new Gauge({
    name: 'inventory_db_pool_connections',
    help: 'Database pool connections by state (open, idle; waiting = requests queued for one)',
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: () => {
      for (const [state, count] of Object.entries(this.poolSnapshot())) this.poolConnections.set({ state }, count);
    },
  });
  readonly dbRetries = new Counter({
    name: 'inventory_db_retries_total',
    help: 'Transactions rolled back and retried, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly idempotentReplays = new Counter({
    name: 'inventory_idempotent_replays_total',
    help: 'Requests answered from a stored idempotent answer',
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'inventory_auth_failures_total',
    help: 'Refused authentications, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly reservations = new Counter({
    name: 'inventory_reservations_total',
    help: 'Reservation writes, by outcome: created, confirmed, cancelled, expired, rejected (refused with a 4xx)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly httpInFlight = new Gauge({
    name: 'inventory_http_in_flight',
    help: 'HTTP requests being served now (probes and /metrics not counted)',
    registers: [this.registry],
  });
  readonly httpShed = new Counter({
    name: 'inventory_http_shed_total',
    help: 'HTTP requests refused with 503 at once because MAX_IN_FLIGHT were being served',
    registers: [this.registry],
  });

  /** Where the outbox backlog comes from; set by the events module (OutboxMetrics). */
  outboxBacklog: () => Promise<number> = () => Promise.resolve(0);
  readonly outboxPending = new Gauge({
    name: 'inventory_outbox_pending',
    help: 'Events not yet delivered to every destination: not yet placed in the feed, webhook deliveries PENDING, not yet confirmed by the broker',
    registers: [this.registry],
    collect: async () => {
      this.outboxPending.set(await this.outboxBacklog().catch(() => NaN));
    },
  });
  readonly webhookDeliveries = new Counter({
    name: 'inventory_webhook_deliveries_total',
    help: 'Webhook delivery attempts, by outcome: delivered (2xx), retry (failed, tried again later), failed (the last attempt failed)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly eventsPublished = new Counter({
    name: 'inventory_events_published_total',
    help: 'Events the message broker confirmed (EVENTS_AMQP_URL)',
    registers: [this.registry],
  });

  readonly readCache = new Counter({
    name: 'inventory_read_cache_requests_total',
    help: 'Product and level reads through the read cache (CACHE_REDIS_URL), by result: hit, miss, error (Redis unreachable: read from the database)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly readCacheEndFailures = new Counter({
    name: 'inventory_read_cache_end_failures_total',
    help: 'Writes whose read-cache mark could not be ended at once (retried; until then their products are read from the database)',
    registers: [this.registry],
  });

  readonly reconcileMismatches = new Gauge({
    name: 'inventory_reconcile_mismatches',
    help: 'Stock levels the latest reconcile run found inconsistent: on hand against the ledger, reserved against the ACTIVE reservation lines',
    registers: [this.registry],
  });
  readonly reconcileLastRun = new Gauge({
    name: 'inventory_reconcile_last_run_timestamp_seconds',
    help: 'When the latest reconcile run on this instance completed (Unix seconds); 0: none yet',
    registers: [this.registry],
  });
  readonly reconcileInterval = new Gauge({
    name: 'inventory_reconcile_interval_seconds',
    help: 'Seconds between scheduled reconcile runs (RECONCILE_INTERVAL); 0: not scheduled',
    registers: [this.registry],
  });

  /** Runs the readiness check (cached at most 1 s) and says whether it passes; set by the health module (ReadinessCheck). */
  readinessCheck: () => Promise<boolean> = () => Promise.resolve(false);
  readonly ready = new Gauge({
    name: 'inventory_ready',
    help: '1 when the readiness check (GET /health/ready) last passed, else 0; a scrape runs the check when its answer is over 1 s old',
    registers: [this.registry],
    collect: async () => {
      this.ready.set((await this.readinessCheck()) ? 1 : 0);
    },
  });

  /** Called once per answered request (Fastify onResponse): labels by template, never the raw URL. */
  observeRequest(method: string, routeTemplate: string | undefined, statusCode: number, seconds: number): void {
    const labels = { method, route: routeTemplate ?? 'unmatched', status_code: String(statusCode) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // every outcome exported from the start at 0: an alert's rate() sees the first failure, not a new series
    for (const outcome of ['delivered', 'retry', 'failed']) this.webhookDeliveries.labels(outcome).inc(0);
  }
}
