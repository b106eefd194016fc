import { LoggerService } from '@nestjs/common';

/** Nest's start-up chatter: a line per module initialised and per route mapped (~55 on a start). */
const CHATTY_CONTEXTS = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestFactory',
  'NestApplication',
]);

/**
 * The application's logger with Nest's start-up chatter at debug: a start prints what a person needs
 * (where it listens, the admin's password when one was generated), not the module and route map.
 * `LOG_LEVEL=debug` shows it again.
 */
export function quietBootLogger(logger: LoggerService & { debug: NonNullable<LoggerService['debug']> }): LoggerService {
  return {
    log: (message: unknown, ...params: unknown[]) =>
      CHATTY_CONTEXTS.has(String(params.at(-1))) ? logger.debug(message, ...params) : logger.log(message, ...params),
    error: (message: unknown, ...params: unknown[]) => logger.error(message, ...params),
    warn: (message: unknown, ...params: unknown[]) => logger.warn(message, ...params),
    debug: (message: unknown, ...params: unknown[]) => logger.debug(message, ...params),
    verbose: (message: unknown, ...params: unknown[]) => logger.verbose?.(message, ...params),
    fatal: (message: unknown, ...params: unknown[]) => logger.fatal?.(message, ...params),
  };
}
