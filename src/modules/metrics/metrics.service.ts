import { Injectable } from '@nestjs/common';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The service's Prometheus registry and the families the contract names. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

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
    help: 'Time from BEGIN to COMMIT of a stock write, retries included',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
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

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
