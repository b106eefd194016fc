import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
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
// read); its writers (a sorted set of write tokens, each scored with the time its mark lapses, by Redis's
// clock); and its generation (a token no other mark, end or read ever used, replaced by every mark and
// every end). Tokens make every step safe to repeat (a command re-sent after a timeout) and a lost key
// (Redis restarted, a key evicted) refuses fills rather than allowing them.

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** An answer; or the generation to fill with (made if there is none) and how many writes are marked. */
const READ = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then return {1, v} end
local g = redis.call('GET', KEYS[3])
if not g then
  g = ARGV[2]
  redis.call('SET', KEYS[3], g, 'PX', ARGV[3])
end
${NOW}
return {0, g, redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf')}`;

/** Stores an answer only if no write has marked or ended since the read took its generation, and none is marked now. */
const FILL = `
if redis.call('GET', KEYS[3]) ~= ARGV[2] then return 0 end
${NOW}
if redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf') > 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

/** Before a write's transaction: drop the answers, mark the write, and make every read in flight unable to fill. */
const MARK = `
${NOW}
redis.call('DEL', KEYS[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
return 1`;

/** While the write runs: its mark lapses later (and stands again if Redis lost it). */
const RENEW = `
${NOW}
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1`;

/** After it (committed or not): drop what was stored meanwhile, unmark the write, a new generation. */
const END = `
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
return 1`;

interface CacheCommands {
  readCached(
    answers: string,
    writers: string,
    generation: string,
    field: string,
    newGeneration: string,
    generationMs: number,
  ): Promise<[1, string] | [0, string, number]>;
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
    write: string,
    markMs: number,
    newGeneration: string,
    generationMs: number,
  ): Promise<number>;
  renewWrite(answers: string, writers: string, generation: string, write: string, markMs: number): Promise<number>;
  endWrite(
    answers: string,
    writers: string,
    generation: string,
    write: string,
    newGeneration: string,
    generationMs: number,
  ): Promise<number>;
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
 * is refused before it changes anything (503). An end that cannot reach it is retried for a while; the
 * mark, still standing, keeps the product's reads on the database until it lapses, after the commit.
 * Reads fall back to the database while Redis is unreachable.
 */
@Injectable()
export class ReadCache implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ReadCache.name);
  private redis: (Redis & CacheCommands) | null = null;
  private ttlMs = 0;
  /** The database's name in Redis: every process on this database, and only they, share its keys. */
  private namespace = '';
  private readonly processToken = randomBytes(9).toString('base64url');
  private tokens = 0;
  /** Writes are being refused (until one is marked again): logged once per outage. */
  private refusing = false;

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
    const redis = new Redis(redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 1000,
      // a command that timed out has been refused or given up on: never sent again after a reconnection
      autoResendUnfulfilledCommands: false,
    });
    // once per outage, not once per reconnection attempt
    let down = false;
    redis.on('error', (error: Error) => {
      if (!down)
        this.logger.warn({ err: error }, 'Read cache: Redis unreachable; reads go to the database, writes are refused');
      down = true;
    });
    redis.on('ready', () => {
      if (down || this.refusing) this.logger.log('Read cache: Redis reachable again');
      down = false;
      this.refusing = false;
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

  /** `load`'s answer for `productId`'s read `field`, from the cache when it holds one. */
  async read<T>(productId: number, field: string, load: () => Promise<T>): Promise<T> {
    const redis = this.redis;
    if (!redis) return load();
    const keys = this.keysOf(productId);
    let seen: string | null = null;
    try {
      const found = await redis.readCached(...keys, field, this.token(), GENERATION_TTL_MS);
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
    const write = this.token();
    try {
      await this.forEach(ids, (keys, pipeline) =>
        pipeline.markWrite(...keys, write, WRITE_MARK_MS, this.token(), GENERATION_TTL_MS),
      );
    } catch (error) {
      throw this.refused(error);
    }
    this.refusing = false;
    const renew = setInterval(() => {
      this.forEach(ids, (keys, pipeline) => pipeline.renewWrite(...keys, write, WRITE_MARK_MS)).catch(() => undefined);
    }, WRITE_MARK_MS / 3);
    renew.unref();
    try {
      return await work();
    } finally {
      clearInterval(renew);
      await this.end(ids, write);
    }
  }

  /**
   * For a write that touches no cached product (a new one): refused like the others while Redis is
   * unreachable, so that a run of writes (an import: products, then their counts) stops before its first.
   */
  assertWritable(): void {
    if (this.redis && this.redis.status !== 'ready') throw this.refused(new Error(`Redis is ${this.redis.status}`));
  }

  private refused(error: unknown): ApiError {
    if (!this.refusing) this.logger.error({ err: error }, 'Read cache: Redis unreachable; writes are refused');
    this.refusing = true;
    return ApiError.unavailable('The read cache cannot be reached, so nothing was changed; retry shortly');
  }

  /**
   * Ends the write's marks. While Redis refuses, retried for a few seconds in the background; should that
   * fail too, each mark lapses by itself (and until then keeps its products' reads on the database).
   */
  private async end(ids: number[], write: string): Promise<void> {
    const endOnce = () =>
      this.forEach(ids, (keys, pipeline) => pipeline.endWrite(...keys, write, this.token(), GENERATION_TTL_MS));
    try {
      await endOnce();
    } catch {
      this.metrics.readCacheEndFailures.inc();
      void (async () => {
        for (let attempt = 1; attempt < END_ATTEMPTS; attempt++) {
          await sleep(200 * 2 ** attempt, undefined, { ref: false });
          if (
            await endOnce().then(
              () => true,
              () => false,
            )
          )
            return;
        }
      })();
    }
  }

  /** A token no other process, and no other call here, ever makes. */
  private token(): string {
    return `${this.processToken}.${(this.tokens++).toString(36)}`;
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
