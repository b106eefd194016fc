import { registerAs } from '@nestjs/config';
import { IsIn, IsInt, IsOptional, IsString, IsUrl, Max, Min } from 'class-validator';
import { isIP } from 'node:net';
import { ConfigError, validateConfig } from './validate-config';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const IsOtlpUrl = () =>
  IsUrl(
    { require_tld: false, require_protocol: true, protocols: ['http', 'https'] },
    { message: 'must be an http(s) URL' },
  );

class AppEnv {
  @IsOptional() @IsInt() @Min(0) @Max(65535) PORT?: number;
  @IsOptional() @IsIn(['development', 'production', 'test']) NODE_ENV?: string;
  @IsOptional() @IsIn(LOG_LEVELS) LOG_LEVEL?: (typeof LOG_LEVELS)[number];
  @IsOptional() @IsIn(['json', 'pretty']) LOG_FORMAT?: 'json' | 'pretty';
  @IsOptional() @IsIn(['true', 'false']) OPENAPI_ENABLED?: string;
  @IsOptional() @IsIn(['true', 'false']) METRICS_ENABLED?: string;
  @IsOptional() @IsString() TRUST_PROXY?: string;
  @IsOptional() @IsInt() @Min(0) @Max(1_000_000) MAX_IN_FLIGHT?: number;
  /** Read by the OpenTelemetry exporter itself (common/tracing); checked here so a bad one stops the start. */
  @IsOptional() @IsOtlpUrl() OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  /** The traces-only endpoint, which switches tracing on as well (common/tracing/tracing.ts). */
  @IsOptional() @IsOtlpUrl() OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;
}

/** Fastify's `trustProxy`: how many proxy hops to believe, or which proxy addresses; false believes none. */
export type TrustProxy = false | number | string[];

const isAddressOrCidr = (entry: string) => {
  const [address, prefix, ...rest] = entry.split('/');
  const version = isIP(address);
  if (!version || rest.length) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128));
};

/** TRUST_PROXY: a hop count, or a comma-separated list of proxy addresses or CIDRs. */
export function parseTrustProxy(value: string | undefined): TrustProxy {
  if (value === undefined) return false;
  if (/^\d+$/.test(value)) return Number(value) > 0 ? Number(value) : false;
  const entries = value.split(',').map((entry) => entry.trim());
  if (!entries.every(isAddressOrCidr)) {
    throw new ConfigError(
      'Invalid configuration: TRUST_PROXY: must be a hop count or a comma-separated list of IP addresses or CIDRs',
    );
  }
  return entries;
}

export interface AppConfig {
  port: number;
  production: boolean;
  logLevel: (typeof LOG_LEVELS)[number];
  /** JSON lines, or human-readable lines (the default on a terminal outside production). */
  logFormat: 'json' | 'pretty';
  /** /docs and /docs-json: on outside production, opt-in there. */
  openApi: boolean;
  /** Per-request HTTP metrics (on by default; off only to measure what they cost). */
  httpMetrics: boolean;
  /** Which X-Forwarded-For entries name the client (TRUST_PROXY); false: the socket's peer is the client. */
  trustProxy: TrustProxy;
  /** Requests served at once; beyond, 503 at once. 0: no cap. */
  maxInFlight: number;
}

/** Requests one instance serves at once unless MAX_IN_FLIGHT says otherwise. */
export const DEFAULT_MAX_IN_FLIGHT = 512;

export function readAppConfig(): AppConfig {
  const env = validateConfig(process.env, AppEnv);
  return {
    port: env.PORT ?? 3000,
    production: env.NODE_ENV === 'production',
    logLevel: env.LOG_LEVEL ?? 'info',
    // a production container with a TTY (`docker run -t`) still logs JSON for its collector
    logFormat: env.LOG_FORMAT ?? (process.stdout.isTTY && env.NODE_ENV !== 'production' ? 'pretty' : 'json'),
    httpMetrics: env.METRICS_ENABLED !== 'false',
    openApi: env.OPENAPI_ENABLED !== undefined ? env.OPENAPI_ENABLED === 'true' : env.NODE_ENV !== 'production',
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    maxInFlight: env.MAX_IN_FLIGHT ?? DEFAULT_MAX_IN_FLIGHT,
  };
}

export const appConfig = registerAs('app', readAppConfig);
