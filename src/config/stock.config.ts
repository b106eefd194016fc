import { registerAs } from '@nestjs/config';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { validateConfig } from './validate-config';

/** Seconds between scheduled reconcile runs unless RECONCILE_INTERVAL says otherwise. */
export const DEFAULT_RECONCILE_INTERVAL_SECONDS = 3600;
/** A week: longer than any sensible schedule, and well inside what one setTimeout can wait (24.8 days). */
const MAX_RECONCILE_INTERVAL_SECONDS = 7 * 86400;
const RECONCILE_INTERVAL_RULE = `must be whole seconds from 0 (off) to ${MAX_RECONCILE_INTERVAL_SECONDS}`;

class StockEnv {
  @IsOptional()
  @IsInt({ message: RECONCILE_INTERVAL_RULE })
  @Min(0, { message: RECONCILE_INTERVAL_RULE })
  @Max(MAX_RECONCILE_INTERVAL_SECONDS, { message: RECONCILE_INTERVAL_RULE })
  RECONCILE_INTERVAL?: number;
}

export interface StockConfig {
  /** Seconds between the reconcile runs each instance schedules; 0: none (the route and the CLI still run it). */
  reconcileIntervalSeconds: number;
}

export function readStockConfig(source: NodeJS.ProcessEnv = process.env): StockConfig {
  const env = validateConfig(source, StockEnv);
  return { reconcileIntervalSeconds: env.RECONCILE_INTERVAL ?? DEFAULT_RECONCILE_INTERVAL_SECONDS };
}

export const stockConfig = registerAs('stock', () => readStockConfig());
