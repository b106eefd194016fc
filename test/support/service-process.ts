import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { within } from './wait';

/** What `npm start` and the image run: the bundled service (bundle.mjs), with their Node flags. */
const MAIN = join(process.cwd(), 'dist', 'server.js');
export const SERVICE_COMMAND = ['--max-semi-space-size=32', MAIN];
const START_TIMEOUT_MS = 30_000;

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  /** Where its JSON logs go: a file, so a busy test or bench process never holds the service up on a full pipe. */
  logFile: string;
  /** SIGTERM, then the exit code once the process is gone. */
  stop(): Promise<number | null>;
}

/** A TCP port nothing listens on now, on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * Starts the built service (`npm run build` first) as its own process — a real second instance,
 * with its own memory, as production runs several behind a load balancer.
 */
export async function startServiceProcess(
  env: Record<string, string>,
  /** Extra Node flags before the script (the profiler's `--cpu-prof`, which NODE_OPTIONS refuses). */
  nodeArgs: string[] = [],
): Promise<ServiceProcess> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  const port = await freePort();
  const logFile = join(mkdtempSync(join(tmpdir(), 'inventory-service-')), 'service.log');
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...nodeArgs, ...SERVICE_COMMAND], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env, PORT: String(port) },
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const listening = () => readFileSync(logFile, 'utf8').includes('Inventory service listening');
  await within(START_TIMEOUT_MS, () => child.exitCode !== null || listening(), 50);
  if (!listening()) {
    child.kill('SIGKILL');
    throw new Error(`service did not start (exit ${child.exitCode}):\n${readFileSync(logFile, 'utf8')}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    logFile,
    stop: () =>
      new Promise<number | null>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode); // already gone
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}
