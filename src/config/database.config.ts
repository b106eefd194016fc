import { registerAs } from '@nestjs/config';
import { IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Max, Min, ValidateIf } from 'class-validator';
import { validateConfig } from './validate-config';

class DatabaseEnv {
  @IsOptional() @IsIn(['sqlite', 'mysql']) DB_TYPE?: 'sqlite' | 'mysql';
  @IsOptional() @IsString() @IsNotEmpty() DB_PATH?: string;
  @ValidateIf((env: DatabaseEnv) => env.DB_TYPE === 'mysql') @IsString() @IsNotEmpty() DB_HOST?: string;
  @IsOptional() @IsInt() @Min(1) @Max(65535) DB_PORT?: number;
  @ValidateIf((env: DatabaseEnv) => env.DB_TYPE === 'mysql') @IsString() @IsNotEmpty() DB_USER?: string;
  @IsOptional() @IsString() DB_PASSWORD?: string;
  @ValidateIf((env: DatabaseEnv) => env.DB_TYPE === 'mysql') @IsString() @IsNotEmpty() DB_NAME?: string;
  @IsOptional() @IsInt() @Min(1) @Max(1000) DB_POOL_SIZE?: number;
  @IsOptional() @IsInt() @Min(1) @Max(600_000) DB_POOL_ACQUIRE_TIMEOUT_MS?: number;
  @IsOptional() @IsInt() @Min(1000) @Max(86_400_000) DB_POOL_IDLE_TIMEOUT_MS?: number;
  @IsOptional() @IsInt() @Min(0) @Max(86_400_000) DB_POOL_MAX_LIFETIME_MS?: number;
}

/** How long pooled MySQL connections wait, idle and live (milliseconds; maxLifetime 0: for ever). */
export interface PoolLimits {
  acquireTimeoutMs: number;
  idleTimeoutMs: number;
  maxLifetimeMs: number;
}

export type DatabaseConfig =
  | { type: 'sqlite'; path: string }
  | {
      type: 'mysql';
      host: string;
      port: number;
      user: string;
      password: string;
      name: string;
      poolSize: number;
      pool: PoolLimits;
    };

export function readDatabaseConfig(source: NodeJS.ProcessEnv = process.env): DatabaseConfig {
  const env = validateConfig(source, DatabaseEnv);
  if (env.DB_TYPE === 'mysql') {
    return {
      type: 'mysql',
      host: env.DB_HOST!,
      port: env.DB_PORT ?? 3306,
      user: env.DB_USER!,
      password: env.DB_PASSWORD ?? '',
      name: env.DB_NAME!,
      poolSize: env.DB_POOL_SIZE ?? 20,
      pool: {
        acquireTimeoutMs: env.DB_POOL_ACQUIRE_TIMEOUT_MS ?? 5000,
        idleTimeoutMs: env.DB_POOL_IDLE_TIMEOUT_MS ?? 60_000,
        maxLifetimeMs: env.DB_POOL_MAX_LIFETIME_MS ?? 30 * 60_000,
      },
    };
  }
  return { type: 'sqlite', path: env.DB_PATH ?? 'data/inventory.sqlite' };
}

export const databaseConfig = registerAs('database', () => readDatabaseConfig());
