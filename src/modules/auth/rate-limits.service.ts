import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { ApiError } from '../../common/errors/api-error';
import { TypedConfigService } from '../../config';

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
export class RateLimitsService implements OnApplicationShutdown {
  private readonly redis: Redis | null;
  private readonly failedByUsername: RateLimiterAbstract;
  private readonly failedByAddress: RateLimiterAbstract;
  private readonly requestsByUser: RateLimiterAbstract | null;

  constructor(config: TypedConfigService) {
    const { redisUrl, rateLimitPerMinute } = config.getOrThrow('auth', { infer: true });
    this.redis = redisUrl ? new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 }) : null;
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

  /** 429 once a username or an address has used up its failed logins in the window, even with the right password. */
  async assertLoginAllowed(username: string, ip: string): Promise<void> {
    const [byUser, byIp] = await Promise.all([this.failedByUsername.get(username), this.failedByAddress.get(ip)]);
    if (byUser && byUser.consumedPoints >= FAILED_LOGINS_PER_USERNAME) throw rateLimited(byUser);
    if (byIp && byIp.consumedPoints >= FAILED_LOGINS_PER_ADDRESS) throw rateLimited(byIp);
  }

  async recordLoginFailure(username: string, ip: string): Promise<void> {
    // a rejection here only means the limit is already reached: the next attempt is refused by assertLoginAllowed
    await Promise.allSettled([this.failedByUsername.consume(username), this.failedByAddress.consume(ip)]);
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
