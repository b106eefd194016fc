import { registerAs } from '@nestjs/config';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { ConfigError, validateConfig } from './validate-config';

/** The contract's retry delays: about 5 s, 30 s, 2 min, 10 min, 1 h, then hourly up to 24 h after the first try. */
export const DEFAULT_RETRY_SCHEDULE_SECONDS = [5, 30, 120, 600, ...Array.from({ length: 23 }, () => 3600)];

class EventsEnv {
  @IsOptional()
  @Matches(/^\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*$/, { message: 'must be seconds separated by commas' })
  WEBHOOK_RETRY_SCHEDULE?: string;
  @IsOptional() @IsString() WEBHOOK_ALLOWED_HOSTS?: string;
  @IsOptional() @IsString() WEBHOOK_SECRET_KEY?: string;
  @IsOptional() @Matches(/^amqps?:\/\//, { message: 'must be an amqp:// or amqps:// URL' }) EVENTS_AMQP_URL?: string;
  /** The contract keeps events 7 days at least. */
  @IsOptional() @IsInt() @Min(7) @Max(9999) EVENTS_RETENTION_DAYS?: number;
  @IsOptional() @IsIn(['true', 'false']) EVENTS_DISPATCH?: string;
}

export interface EventsConfig {
  /** Delay before each retry of a failed delivery, in seconds; past the last one the delivery is FAILED. */
  retryScheduleSeconds: number[];
  /** Hosts (`host` or `host:port`, lower case) a webhook may name even when they resolve to a private address. */
  allowedHosts: Set<string>;
  /** Seals webhook secrets at rest; null: derived from JWT_SECRET. */
  secretKey: string | null;
  amqpUrl: string | null;
  /** Events older than this are purged once every destination is past them (the contract keeps 7 days at least). */
  retentionDays: number;
  /**
   * Whether this instance sends webhook deliveries and publishes to RabbitMQ. Off: it still writes and
   * places events, and other instances (a dedicated events instance, say) send them.
   */
  dispatch: boolean;
}

export function readEventsConfig(): EventsConfig {
  const env = validateConfig(process.env, EventsEnv);
  if (env.WEBHOOK_SECRET_KEY !== undefined && Buffer.byteLength(env.WEBHOOK_SECRET_KEY) < 32) {
    throw new ConfigError('Invalid configuration: WEBHOOK_SECRET_KEY: must be at least 32 bytes');
  }
  return {
    retryScheduleSeconds: env.WEBHOOK_RETRY_SCHEDULE
      ? env.WEBHOOK_RETRY_SCHEDULE.split(',').map((s) => Number(s.trim()))
      : DEFAULT_RETRY_SCHEDULE_SECONDS,
    allowedHosts: new Set(
      (env.WEBHOOK_ALLOWED_HOSTS ?? '')
        .split(',')
        .map((host) => host.trim().toLowerCase())
        .filter(Boolean),
    ),
    secretKey: env.WEBHOOK_SECRET_KEY ?? null,
    amqpUrl: env.EVENTS_AMQP_URL ?? null,
    retentionDays: env.EVENTS_RETENTION_DAYS ?? 7,
    dispatch: env.EVENTS_DISPATCH !== 'false',
  };
}

export const eventsConfig = registerAs('events', readEventsConfig);
