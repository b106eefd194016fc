// first: when configured, OpenTelemetry patches http, mysql2 and pino as they load
import { stopTracing } from './common/tracing/register';
import { setFlagsFromString } from 'node:v8';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from 'nestjs-pino';
import { createApp } from './app.factory';
import { flushLogs, logDestination } from './common/log-destination';
import { UsersService } from './modules/users/users.service';
import { configLoaders, TypedConfigService } from './config';
import { ConfigError } from './config/validate-config';
import { ShutdownState } from './modules/health/shutdown-state';

const SHUTDOWN_TIMEOUT_MS = 15_000;
/** From SIGTERM to closing the listener: lets the event loop accept and read what clients already sent. */
const DRAIN_SETTLE_MS = 100;

/**
 * The old generation grows to 1.5× what survived the last full collection instead of V8's up to 4×:
 * under a 64-connection write load the service peaked at ~300 MB of RSS, most of it garbage not yet
 * collected, and peaks at ~220 MB so (throughput the same within this machine's noise, `npm run bench`).
 * A growth factor, not a limit: a heap that needs more still gets it. V8 reads it at every collection,
 * so setting it here takes effect as a command-line flag would.
 */
const HEAP_GROWING_PERCENT = 50;

async function bootstrap(): Promise<void> {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  try {
    configLoaders.forEach((load) => load());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  const app = await createApp();
  const config = app.get(TypedConfigService);
  const { port } = config.getOrThrow('app', { infer: true });
  const database = config.getOrThrow('database', { infer: true });
  // SIGTERM/SIGINT: readiness turns 503, in-flight requests finish, the pool closes, exit 0
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      const logger = app.get(Logger);
      const exit = (code: number) => {
        flushLogs();
        void stopTracing().finally(() => process.exit(code));
      };
      app.get(ShutdownState).begin();
      logger.log(`${signal}: draining in-flight requests`, 'Shutdown');
      // a drain that cannot finish must not keep the orchestrator waiting forever
      setTimeout(() => {
        logger.error(`Shutdown did not finish within ${SHUTDOWN_TIMEOUT_MS} ms; exiting`);
        exit(1);
      }, SHUTDOWN_TIMEOUT_MS).unref();
      // requests already sent on connections not yet read get a definite 503 rather than a reset
      sleep(DRAIN_SETTLE_MS)
        .then(() => app.close())
        .then(
          () => {
            logger.log('Drained; database pool closed; exiting', 'Shutdown');
            exit(0);
          },
          (error: unknown) => {
            logger.error({ err: error }, 'Shutdown failed');
            exit(1);
          },
        );
    });
  }
  await app.listen({ port, host: '0.0.0.0' });
  const url = `http://localhost:${port}`;
  const where =
    database.type === 'sqlite' ? `SQLite ${database.path}` : `MySQL ${database.host}:${database.port}/${database.name}`;
  const admin = config.getOrThrow('auth', { infer: true }).adminUsername;
  const login = `curl -X POST ${url}/api/auth/login -H 'Content-Type: application/json' -d '{"username":"${admin}","password":"<password>"}'`;
  app.get(Logger).log(`Inventory service listening on ${url} (${where}). Log in: ${login}`, 'Bootstrap');
  const { logFormat, openApi } = config.getOrThrow('app', { infer: true });
  const password = app.get(UsersService).takeGeneratedAdminPassword(); // not kept in memory either way
  if (logFormat === 'pretty') {
    logDestination.write(
      [
        '',
        `  Inventory service ready: ${url}  (${where})`,
        ...(openApi ? [`  API docs:  ${url}/docs`] : []),
        password
          ? `  Admin:     ${admin} / ${password}   (generated now and shown only once: change it)`
          : `  Admin:     ${admin}`,
        `  Log in:    ${login}`,
        '',
        '',
      ].join('\n'),
    );
  }
}

void bootstrap();
