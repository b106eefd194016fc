import { registerAs } from '@nestjs/config';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { validateConfig } from './validate-config';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

class AppEnv {
  @IsOptional() @IsInt() @Min(0) @Max(65535) PORT?: number;
  @IsOptional() @IsIn(['development', 'production', 'test']) NODE_ENV?: string;
  @IsOptional() @IsIn(LOG_LEVELS) LOG_LEVEL?: (typeof LOG_LEVELS)[number];
  @IsOptional() @IsIn(['true', 'false']) OPENAPI_ENABLED?: string;
  @IsOptional() @IsIn(['true', 'false']) METRICS_ENABLED?: string;
}

export interface AppConfig {
  port: number;
  production: boolean;
  logLevel: (typeof LOG_LEVELS)[number];
  /** /docs and /docs-json: on outside production, opt-in there. */
  openApi: boolean;
  /** Per-request HTTP metrics (on by default; off only to measure what they cost). */
  httpMetrics: boolean;
}

export const appConfig = registerAs('app', (): AppConfig => {
  const env = validateConfig(process.env, AppEnv);
  return {
    port: env.PORT ?? 3000,
    production: env.NODE_ENV === 'production',
    logLevel: env.LOG_LEVEL ?? 'info',
    httpMetrics: env.METRICS_ENABLED !== 'false',
    openApi: env.OPENAPI_ENABLED !== undefined ? env.OPENAPI_ENABLED === 'true' : env.NODE_ENV !== 'production',
  };
});
