import pino, { DestinationStream } from 'pino';

/**
 * stdout written asynchronously: lines logged while a write is in flight go out together, never
 * blocking a request. Flushed before the process exits (main.ts), so no line is lost on shutdown.
 */
export const logDestination = pino.destination({ dest: 1, sync: false });

/** A request's line as a person reads it: `POST /api/stock/out 201 3 ms`. */
interface LogRecord {
  context?: string;
  req?: { method: string; url: string };
  res?: { statusCode: number };
  responseTime?: number;
  [key: string]: unknown;
}

/**
 * Human-readable lines for a terminal (LOG_FORMAT=pretty, the default when stdout is one): time, level,
 * `[context]` and the message; a request as method, URL, status and time; other fields indented below.
 * Written synchronously (a person is reading), still through `logDestination`, so flushing works the same.
 * pino-pretty is loaded only here: JSON logs (containers, LOG_FORMAT=json) never need it.
 */
export async function prettyDestination(colorize = Boolean(process.stdout.isTTY)): Promise<DestinationStream> {
  const { default: pretty } = await import('pino-pretty');
  return pretty({
    destination: logDestination,
    colorize,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,context,req,res,responseTime',
    messageFormat: (log: LogRecord, messageKey: string) => {
      const message = String(log[messageKey] ?? '');
      if (log.req && log.res) {
        const took = log.responseTime === undefined ? '' : ` ${log.responseTime} ms`;
        return `${log.req.method} ${log.req.url} ${log.res.statusCode}${took}`;
      }
      return log.context ? `[${log.context}] ${message}` : message;
    },
  });
}

export function flushLogs(): void {
  try {
    logDestination.flushSync();
  } catch {
    // not opened yet: nothing was written
  }
}
