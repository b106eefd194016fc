import { setTimeout as sleep } from 'node:timers/promises';
import { tracingConfigured } from './tracing';

/**
 * Imported first by main.ts: the instrumentations patch `http`, `mysql2` and `pino` as they are first
 * required, so the SDK starts before anything else loads — and only when configured, so a service
 * without `OTEL_EXPORTER_OTLP_ENDPOINT` neither loads nor pays for it.
 */
let shutdown: (() => Promise<void>) | undefined;
if (tracingConfigured()) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when configured, before any import below it in main.ts
  const sdk = require('./otel-sdk') as typeof import('./otel-sdk');
  shutdown = sdk.startTracing(process.env);
}

/** How long a shutdown waits for the last spans to go out: a collector that is down must not hold the exit. */
const FLUSH_TIMEOUT_MS = 2_000;

/** Sends the spans still buffered; main.ts calls it on shutdown so the last requests' traces are kept. */
export async function stopTracing(): Promise<void> {
  if (!shutdown) return;
  await Promise.race([shutdown().catch(() => undefined), sleep(FLUSH_TIMEOUT_MS)]);
}
