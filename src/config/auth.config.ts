import { registerAs } from '@nestjs/config';
import { IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { USERNAME_PATTERN, USERNAME_RULE } from '../common/usernames';
import { readDatabaseConfig } from './database.config';
import { ConfigError, IsRedisUrl, validateConfig } from './validate-config';

const DURATION_PATTERN = /^(\d{1,9})([smhd]?)$/;
const MIN_SECRET_BYTES = 32;
/** The longest JWT_TTL: an access token that leaks is good for at most a day. */
export const MAX_ACCESS_TOKEN_TTL_SECONDS = 24 * 3600;

class AuthEnv {
  @IsOptional() @IsString() @Length(1, 4096) JWT_SECRET?: string;
  @IsOptional()
  @Matches(DURATION_PATTERN, { message: 'must be seconds or a number with s, m, h or d (e.g. 900, 15m, 1h)' })
  JWT_TTL?: string;
  @IsOptional() @Matches(USERNAME_PATTERN, { message: `must be ${USERNAME_RULE}` }) ADMIN_USERNAME?: string;
  @IsOptional() @IsString() @Length(12, 128) ADMIN_PASSWORD?: string;
  @IsOptional() @IsInt() @Min(0) @Max(10_000_000) RATE_LIMIT_PER_MINUTE?: number;
  @IsOptional() @IsRedisUrl() REDIS_URL?: string;
  @IsOptional() @IsInt() @Min(1) @Max(1024) LOGIN_CONCURRENCY?: number;
  /** OWASP's floor for argon2id is 19 MiB with 2 passes; the default is 64 MiB with 3. */
  @IsOptional() @IsInt() @Min(19_456) @Max(1_048_576) PASSWORD_HASH_MEMORY_KIB?: number;
  @IsOptional() @IsInt() @Min(2) @Max(10) PASSWORD_HASH_ITERATIONS?: number;
}

export interface AuthConfig {
  jwtSecret: string;
  jwtTtlSeconds: number;
  adminUsername: string;
  adminPassword: string | null;
  rateLimitPerMinute: number;
  redisUrl: string | null;
  /** Password checks (argon2, 64 MiB each) run at once; beyond them and a short queue, 503. */
  loginConcurrency: number;
  /** argon2id's cost for new hashes (a stored hash keeps the cost it was made with). */
  passwordHash: { memoryCost: number; timeCost: number };
}

export function parseDuration(value: string): number {
  const match = DURATION_PATTERN.exec(value);
  if (!match) throw new ConfigError(`Invalid duration: ${value}`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** Outside production a missing secret is generated once and kept beside the data so tokens survive restarts. */
function developmentSecret(): string {
  const db = readDatabaseConfig();
  const folder = db.type === 'sqlite' ? dirname(db.path) : 'data';
  const file = join(folder, 'jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(folder, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  try {
    writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (error) {
    // another process created it first: use theirs
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    throw error;
  }
}

export function readAuthConfig(): AuthConfig {
  const env = validateConfig(process.env, AuthEnv);
  if (env.JWT_SECRET !== undefined && Buffer.byteLength(env.JWT_SECRET) < MIN_SECRET_BYTES) {
    throw new ConfigError(`Invalid configuration: JWT_SECRET: must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  if (process.env.NODE_ENV === 'production' && env.JWT_SECRET === undefined) {
    throw new ConfigError(
      `Invalid configuration: JWT_SECRET: production needs one of at least ${MIN_SECRET_BYTES} bytes`,
    );
  }
  const jwtTtlSeconds = parseDuration(env.JWT_TTL ?? '1h');
  if (jwtTtlSeconds < 1 || jwtTtlSeconds > MAX_ACCESS_TOKEN_TTL_SECONDS) {
    throw new ConfigError('Invalid configuration: JWT_TTL: must be between 1 second and 24 hours');
  }
  return {
    jwtSecret: env.JWT_SECRET ?? developmentSecret(),
    jwtTtlSeconds,
    adminUsername: env.ADMIN_USERNAME ?? 'admin',
    adminPassword: env.ADMIN_PASSWORD ?? null,
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE ?? 6000,
    redisUrl: env.REDIS_URL ?? null,
    loginConcurrency: env.LOGIN_CONCURRENCY ?? 2 * availableParallelism(),
    passwordHash: { memoryCost: env.PASSWORD_HASH_MEMORY_KIB ?? 65_536, timeCost: env.PASSWORD_HASH_ITERATIONS ?? 3 },
  };
}

export const authConfig = registerAs('auth', readAuthConfig);
