import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { RequestContext } from '../../common/decorators/auth.decorators';
import { ApiError, errorBody } from '../../common/errors/api-error';
import { IdempotentReplay } from '../../common/errors/idempotent-replay';
import { MetricsService } from '../../common/metrics/metrics.service';
import { duplicateKey, InsertedIds, Statement } from '../../database/dialect';
import { TransactionService } from '../../database/transaction.service';
import { IdempotencyRepository, IdempotencyScope } from './idempotency.repository';

const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const IDEMPOTENCY_PURGE_EVERY_MS = 10 * 60 * 1000;

/** An Idempotency-Key as the controller read it: the route it came on and the body it came with. */
export interface Idempotency {
  route: string;
  key: string;
  body: unknown;
}

/** A key in use by one request: whose, where, and the hash of the body it came with. */
export interface Claim {
  scope: IdempotencyScope;
  requestHash: string;
}

/** JSON with object keys sorted at every depth: the same body hashes the same whatever its key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The idempotency store of stock writes: a key's first answer — a 201, or a 404/409 refusal — is kept
 * for 24 h per (user, route, key) and replayed verbatim; the same key with another body is refused.
 * A 2xx is stored by the write's own transaction (`storeAnswers`), so it exists exactly when the write does.
 */
@Injectable()
export class IdempotencyService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(IdempotencyService.name);
  private purgeTimer?: NodeJS.Timeout;

  constructor(
    private readonly keys: IdempotencyRepository,
    private readonly tx: TransactionService,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    this.purgeTimer = setInterval(() => void this.purgeOld(), IDEMPOTENCY_PURGE_EVERY_MS);
    this.purgeTimer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.purgeTimer);
  }

  /** Claims the key for this request; throws the stored answer's replay when the key already has one. */
  async claim(userId: number, idempotency: Idempotency): Promise<Claim> {
    const claim = {
      scope: { userId, route: idempotency.route, key: idempotency.key },
      requestHash: createHash('sha256').update(canonicalJson(idempotency.body)).digest('hex'),
    };
    await this.replayIfKnown(claim);
    return claim;
  }

  /** Throws IdempotentReplay with the stored answer, or 422 when the key was used with another body. */
  async replayIfKnown({ scope, requestHash }: Claim): Promise<void> {
    const stored = await this.keys.find(scope);
    if (!stored) return;
    if (stored.requestHash !== requestHash) {
      throw new ApiError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with another request body');
    }
    this.metrics.idempotentReplays.inc();
    throw new IdempotentReplay(stored.responseStatus, JSON.parse(stored.responseBody));
  }

  /** The 2xx answers of a group's writes, for its last round trip (their movement ids filled in there). */
  storeAnswers(answers: { claim: Claim; status: number; body: unknown }[], now: Date, ids: InsertedIds): Statement[] {
    if (!answers.length) return [];
    const rows = answers.map(({ claim, status, body }) => ({
      ...claim.scope,
      requestHash: claim.requestHash,
      responseStatus: status,
      responseBody: body,
    }));
    return [this.keys.insertAnswers(rows, now, ids)];
  }

  /** A first 404/409 is an answer too: kept, so a retry with the key gets it again. */
  async rememberRefusal(ctx: RequestContext, claim: Claim, error: ApiError): Promise<void> {
    const row = {
      ...claim.scope,
      requestHash: claim.requestHash,
      responseStatus: error.status,
      responseBody: JSON.stringify(errorBody(error, ctx.requestId)),
      createdAt: new Date(),
    };
    try {
      await this.tx.run((manager) => this.keys.insert(manager, row));
    } catch (storeError) {
      if (duplicateKey(storeError)) await this.replayIfKnown(claim);
      throw storeError;
    }
  }

  /** Forgets answers older than 24 h (every 10 minutes); a key older than that is a new request again. */
  async purgeOld(): Promise<void> {
    try {
      const purged = await this.keys.deleteOlderThan(new Date(Date.now() - IDEMPOTENCY_TTL_MS));
      if (purged) this.logger.log({ purged }, 'Purged idempotency keys older than 24 h');
    } catch (error) {
      this.logger.warn({ err: error }, 'Could not purge old idempotency keys');
    }
  }
}
