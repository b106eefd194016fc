import { Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import { RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { ApiError } from '../../common/errors/api-error';
import { TypedConfigService } from '../../config';
import { clientKey } from '../../common/http/client-address';

const LOGIN_WINDOW_SECONDS = 15 * 60;
const FAILED_LOGINS_PER_USERNAME = 10;
const FAILED_LOGINS_PER_ADDRESS = 100;

function rateLimited(res: Pick<RateLimiterRes, 'msBeforeNext'>): ApiError {
  return new ApiError(
    'RATE_LIMITED',
    'Too many requests; retry later',
    undefined,
    Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
  );
}

/**
 * Login throttling and the per-user request limit, per process by default and shared through Redis
 * when REDIS_URL is set (falling back to this process's memory while Redis is unreachable).
 */
@Injectable()
export class RateLimitsService implements OnModuleInit, OnApplicationShutdown {
  private redis: Redis | null = null;
  // made in onModuleInit, before the application serves any request
  private failedByUsername!: RateLimiterAbstract;
  private failedByAddress!: RateLimiterAbstract;
  private requestsByUser!: RateLimiterAbstract | null;

  constructor(private readonly config: TypedConfigService) {}

  /** Here rather than in the constructor so ioredis can be imported, and only when REDIS_URL is set. */
  async onModuleInit(): Promise<void> {
    const { redisUrl, rateLimitPerMinute } = this.config.getOrThrow('auth', { infer: true });
    if (redisUrl) {
      const { default: Redis } = await import('ioredis');
      this.redis = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    }
    const limiter = (keyPrefix: string, points: number, duration: number): RateLimiterAbstract => {
      const memory = new RateLimiterMemory({ keyPrefix, points, duration });
      return this.redis
        ? new RateLimiterRedis({ storeClient: this.redis, keyPrefix, points, duration, insuranceLimiter: memory })
        : memory;
    };
    this.failedByUsername = limiter('inv:login:user', FAILED_LOGINS_PER_USERNAME, LOGIN_WINDOW_SECONDS);
    this.failedByAddress = limiter('inv:login:ip', FAILED_LOGINS_PER_ADDRESS, LOGIN_WINDOW_SECONDS);
    this.requestsByUser = rateLimitPerMinute > 0 ? limiter('inv:req:user', rateLimitPerMinute, 60) : null;
  }

  /**
   * Counts a login attempt for its username and its client address before any password is checked,
   * so a burst of parallel guesses cannot all pass a count that has not been bumped yet: past 10 for
   * the username or 100 for the address, 429 (even with the right password), and the refused attempt
   * is not counted. The caller refunds an attempt that succeeds.
   */
  async countLoginAttempt(username: string, address: string): Promise<{ refund: () => Promise<void> }> {
    const counted = [this.failedByUsername.consume(username), this.failedByAddress.consume(clientKey(address))];
    const refund = async () => {
      await Promise.allSettled([
        this.failedByUsername.reward(username),
        this.failedByAddress.reward(clientKey(address)),
      ]);
    };
    const outcomes = await Promise.allSettled(counted);
    const refused = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (refused) {
      await refund();
      if (refused.reason instanceof RateLimiterRes) throw rateLimited(refused.reason);
      throw refused.reason;
    }
    return { refund };
  }

  async consumeRequest(userId: number): Promise<void> {
    if (!this.requestsByUser) return;
    try {
      await this.requestsByUser.consume(String(userId));
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) throw rateLimited(rejection);
      throw rejection;
    }
  }

  /** After the HTTP drain (onModuleDestroy would run before it): in-flight requests still count. */
  async onApplicationShutdown(): Promise<void> {
    await this.redis?.quit().catch(() => undefined);
  }
}
