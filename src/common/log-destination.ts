import pino from 'pino';

/**
 * stdout written asynchronously: lines logged while a write is in flight go out together, never
 * blocking a request. Flushed before the process exits (main.ts), so no line is lost on shutdown.
 */
export const logDestination = pino.destination({ dest: 1, sync: false });

export function flushLogs(): void {
  try {
    logDestination.flushSync();
  } catch {
    // not opened yet: nothing was written
  }
}
