import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError } from '../../common/errors/api-error';
import { MetricsService } from '../../common/metrics/metrics.service';
import { TypedConfigService } from '../../config';
import { SequencesRepository } from '../../database/sequences.repository';

/**
 * How long a write's mark lives without being renewed: a process that dies mid-write leaves its products
 * uncached (read from the database) this long. Renewed every third of it while the write runs.
 */
const WRITE_MARK_MS = 60_000;
/** Generations outlive any read in flight by far; they only need to differ from the one a read saw. */
const GENERATION_TTL_MS = 86_400_000;
const END_ATTEMPTS = 5;
const CONNECT_WAIT_MS = 5000;

// Each product has three keys, in one hash slot ({id}): its cached answers (a hash, a field per kind of
// read), its writers (a count, present while a write is between its mark and its end) and its generation
// (bumped by every mark and every end).

/** An answer, or the generation to fill with and whether a fill may be tried at all. */
const READ = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then return {1, v} end
return {0, redis.call('GET', KEYS[3]) or '0', redis.call('EXISTS', KEYS[2])}`;

/** Stores an answer only if no write has marked or ended since the read's generation was taken. */
const FILL = `
if (redis.call('GET', KEYS[3]) or '0') ~= ARGV[2] then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

/** Before a write's transaction: drop the answers, count the writer, and make every read in flight unable to fill. */
const MARK = `
redis.call('DEL', KEYS[1])
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return 1`;

const RENEW = `
if redis.call('PEXPIRE', KEYS[2], ARGV[1]) == 0 then redis.call('SET', KEYS[2], 1, 'PX', ARGV[1]) end
return 1`;

/** After it (committed or not): drop what a read filled meanwhile, uncount the writer, bump the generation. */
const END = `
redis.call('DEL', KEYS[1])
if redis.call('DECR', KEYS[2]) <= 0 then redis.call('DEL', KEYS[2]) end
redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[1])
return 1`;

interface CacheCommands {
  readCached(
    answers: string,
    writers: string,
    generation: string,
    field: string,
  ): Promise<[1, string] | [0, string, 0 | 1]>;
  fillCached(
    answers: string,
    writers: string,
    generation: string,
    field: string,
    seen: string,
    value: string,
    ttlMs: number,
  ): Promise<number>;
  markWrite(
    answers: string,
    writers: string,
    generation: string,
    markMs: number,
    generationMs: number,
  ): Promise<number>;
  renewWrite(answers: string, writers: string, generation: string, markMs: number): Promise<number>;
  endWrite(answers: string, writers: string, generation: string, generationMs: number): Promise<number>;
}

type Keys = readonly [answers: string, writers: string, generation: string];

/**
 * Cache-aside for the reads of one product (GET /api/products/:id, its levels), in Redis when
 * CACHE_REDIS_URL is set; without it every call goes to the database.
 *
 * No read after a write's answer can see what was there before it: a write marks its products before
 * its transaction (answers dropped, fills refused while the mark stands) and ends the mark after it,
 * before it answers; a read that missed fills only if no mark or end came since it looked (one Lua
 * script each, so the check and the store are one step in Redis). A write whose mark cannot reach Redis
 * is refused before it changes anything (503); an end that cannot reach it is retried, and the mark,
 * still standing, keeps reads on the database until it lapses after the commit. Reads fall back to the
 * database while Redis is unreachable.
 */
@Injectable()
export class ReadCache implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ReadCache.name);
  private redis: (Redis & CacheCommands) | null = null;
  private ttlMs = 0;
  /** The database's name in Redis: every process on this database, and only they, share its keys. */
  private namespace = '';

  constructor(
    private readonly config: TypedConfigService,
    private readonly metrics: MetricsService,
    private readonly sequences: SequencesRepository,
  ) {}

  /** Here rather than in the constructor so ioredis is imported only when the cache is on. */
  async onModuleInit(): Promise<void> {
    const { redisUrl, ttlSeconds } = this.config.getOrThrow('cache', { infer: true });
    if (!redisUrl) return;
    const { default: Redis } = await import('ioredis');
    const redis = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1000 });
    // once per outage, not once per reconnection attempt
    let down = false;
    redis.on('error', (error: Error) => {
      if (!down)
        this.logger.warn({ err: error }, 'Read cache: Redis unreachable; reads go to the database, writes are refused');
      down = true;
    });
    redis.on('ready', () => {
      if (down) this.logger.log('Read cache: Redis reachable again');
      down = false;
    });
    redis.defineCommand('readCached', { numberOfKeys: 3, lua: READ });
    redis.defineCommand('fillCached', { numberOfKeys: 3, lua: FILL });
    redis.defineCommand('markWrite', { numberOfKeys: 3, lua: MARK });
    redis.defineCommand('renewWrite', { numberOfKeys: 3, lua: RENEW });
    redis.defineCommand('endWrite', { numberOfKeys: 3, lua: END });
    this.redis = redis as Redis & CacheCommands;
    this.ttlMs = ttlSeconds * 1000;
    this.namespace = (await this.sequences.drawnOnce('read-cache-namespace')).toString(36);
    // commands are refused, not queued, while disconnected: the first writes must not meet a connection still opening
    const ready =
      redis.status === 'ready' ||
      (await once(redis, 'ready', { signal: AbortSignal.timeout(CONNECT_WAIT_MS) }).then(
        () => true,
        () => false,
      ));
    if (!ready) this.logger.warn('Read cache: Redis is not reachable yet; writes are refused until it is');
  }

  private keysOf(productId: number): Keys {
    const product = `inv:rc:${this.namespace}:{${productId}}`;
    return [`${product}:a`, `${product}:w`, `${product}:g`];
  }

  get enabled(): boolean {
    return this.redis !== null;
  }

  /** `load`'s answer for `productId`'s read `field`, from the cache when it holds one. */
  async read<T>(productId: number, field: string, load: () => Promise<T>): Promise<T> {
    const redis = this.redis;
    if (!redis) return load();
    const keys = this.keysOf(productId);
    let seen: string | null = null;
    try {
      const found = await redis.readCached(...keys, field);
      if (found[0] === 1) {
        this.metrics.readCache.inc({ result: 'hit' });
        return JSON.parse(found[1]) as T;
      }
      if (found[2] === 0) seen = found[1];
      this.metrics.readCache.inc({ result: 'miss' });
    } catch {
      this.metrics.readCache.inc({ result: 'error' });
    }
    const value = await load();
    if (seen !== null) {
      // not awaited: the answer does not wait for the cache, and a fill that lost a race is refused
      redis.fillCached(...keys, field, seen, JSON.stringify(value), this.ttlMs).catch(() => undefined);
    }
    return value;
  }

  /**
   * Runs `work`, a write to `productIds` (their product rows or stock levels), so that no read after it
   * returns sees what was cached before: see the class. 503 SERVICE_UNAVAILABLE, with nothing done, when
   * the cache is on and Redis cannot be reached.
   */
  async writing<T>(productIds: Iterable<number>, work: () => Promise<T>): Promise<T> {
    const redis = this.redis;
    if (!redis) return work();
    const ids = [...new Set(productIds)];
    if (!ids.length) return work();
    try {
      await this.forEach(ids, (keys, pipeline) => pipeline.markWrite(...keys, WRITE_MARK_MS, GENERATION_TTL_MS));
    } catch (error) {
      this.logger.error({ err: error }, 'Read cache: cannot mark a write; it is refused');
      throw ApiError.unavailable('The read cache cannot be reached, so nothing was changed; retry shortly');
    }
    const renew = setInterval(() => {
      this.forEach(ids, (keys, pipeline) => pipeline.renewWrite(...keys, WRITE_MARK_MS)).catch(() => undefined);
    }, WRITE_MARK_MS / 3);
    renew.unref();
    try {
      return await work();
    } finally {
      clearInterval(renew);
      await this.end(ids);
    }
  }

  /** Ends the marks; while Redis refuses, retried in the background (the marks keep reads on the database). */
  private async end(ids: number[]): Promise<void> {
    const endOnce = () => this.forEach(ids, (keys, pipeline) => pipeline.endWrite(...keys, GENERATION_TTL_MS));
    try {
      await endOnce();
    } catch (error) {
      this.metrics.readCacheEndFailures.inc();
      this.logger.warn({ err: error, productIds: ids }, 'Read cache: cannot end a write mark; retrying');
      void (async () => {
        for (let attempt = 1; attempt < END_ATTEMPTS; attempt++) {
          await sleep(200 * 2 ** attempt);
          if (
            await endOnce().then(
              () => true,
              () => false,
            )
          )
            return;
        }
        this.logger.error({ productIds: ids }, 'Read cache: write marks left to lapse');
      })();
    }
  }

  /** One script per product, pipelined: one round trip, and each script stays inside its product's slot. */
  private async forEach(ids: number[], command: (keys: Keys, pipeline: CacheCommands) => unknown): Promise<void> {
    const pipeline = this.redis!.pipeline();
    for (const id of ids) command(this.keysOf(id), pipeline as unknown as CacheCommands);
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) throw failed?.[0] ?? new Error('The Redis pipeline was not run');
  }

  async onApplicationShutdown(): Promise<void> {
    const redis = this.redis;
    if (!redis) return;
    // QUIT needs a connection; while reconnecting it would keep the process alive
    if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
    else redis.disconnect();
  }
}
