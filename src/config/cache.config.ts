import { registerAs } from '@nestjs/config';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { IsRedisUrl, validateConfig } from './validate-config';

class CacheEnv {
  @IsOptional() @IsRedisUrl() CACHE_REDIS_URL?: string;
  @IsOptional()
  @IsInt({ message: 'must be whole seconds from 1 to 86400' })
  @Min(1, { message: 'must be whole seconds from 1 to 86400' })
  @Max(86400, { message: 'must be whole seconds from 1 to 86400' })
  CACHE_TTL?: number;
}

export interface CacheConfig {
  /**
   * Redis for the read cache of product and level reads; null: no cache. Every process that writes
   * products or stock (each instance, the CLI) must name the same one: its writes invalidate it.
   */
  redisUrl: string | null;
  /** How long an entry stays after it is stored, in seconds: a bound on memory, not on staleness (writes invalidate). */
  ttlSeconds: number;
}

export function readCacheConfig(source: NodeJS.ProcessEnv = process.env): CacheConfig {
  const env = validateConfig(source, CacheEnv);
  return { redisUrl: env.CACHE_REDIS_URL ?? null, ttlSeconds: env.CACHE_TTL ?? 300 };
}

export const cacheConfig = registerAs('cache', () => readCacheConfig());
