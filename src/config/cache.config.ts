import { registerAs } from '@nestjs/config';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { validateConfig } from './validate-config';

class CacheEnv {
  @IsOptional()
  @Matches(/^rediss?:\/\/\S+$/, { message: 'must be a redis:// or rediss:// URL' })
  CACHE_REDIS_URL?: string;
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
  /** How long an unread entry may stay, in seconds: a bound on memory, not on staleness (writes invalidate). */
  ttlSeconds: number;
}

export function readCacheConfig(source: NodeJS.ProcessEnv = process.env): CacheConfig {
  const env = validateConfig(source, CacheEnv);
  return { redisUrl: env.CACHE_REDIS_URL ?? null, ttlSeconds: env.CACHE_TTL ?? 300 };
}

export const cacheConfig = registerAs('cache', () => readCacheConfig());
