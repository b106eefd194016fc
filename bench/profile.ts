/**
 * `npm run profile`: the bench's hot-SKU stock-out load (POST /api/stock/out, 64 connections) against one
 * service process on MariaDB/MySQL running under the V8 CPU profiler (`--cpu-prof`). After a SIGTERM (the
 * graceful shutdown, whose exit makes V8 write the profile) it writes to profile/<timestamp>/:
 *   service.cpuprofile  the raw profile of the whole process life (boot, seed, warm-up, load, shutdown)
 *   load.cpuprofile     the same cut to the measured load, dist/*.js locations mapped to src/*.ts
 *   flamegraph.html     a self-contained flame graph of load.cpuprofile (0x)
 *   top.txt             the top 20 functions by self time during the load, and self time by package
 * Both .cpuprofile files open in Chrome DevTools (Performance → Load profile) and speedscope.
 * PROFILE_DURATION sets the measured seconds (default 10).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { SourceMap, SourceMapPayload } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPool } from 'mysql2/promise';
import { loginTo } from '../test/support/service-client';
import { ServiceProcess, startServiceProcess } from '../test/support/service-process';
import {
  benchServiceEnv,
  CONNECTIONS,
  dropDatabase,
  Figures,
  fmt,
  freshDatabase,
  POOL_SIZE,
  seed,
  server,
  service,
} from './common';

const DB_NAME = 'inventory_profile_test';
const DURATION_S = Number(process.env.PROFILE_DURATION ?? 10);
const WARMUP_S = 2; // lets the JIT settle before the measured window
const TOP = 20;
const ROOT = process.cwd();

// ---------------------------------------------------------------------------------------------------
// The .cpuprofile format (Chrome DevTools protocol Profiler.Profile)

interface CallFrame {
  functionName: string;
  scriptId: string;
  url: string;
  lineNumber: number; // 0-based
  columnNumber: number; // 0-based
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
  positionTicks?: { line: number; ticks: number }[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number; // µs, the monotonic clock process.hrtime reads too
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * The profile cut to the samples taken between `fromUs` and `toUs` (monotonic µs), hit counts
 * recounted; every node is kept so the tree stays whole.
 */
function cutToWindow(profile: CpuProfile, fromUs: number, toUs: number): CpuProfile {
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let at = profile.startTime;
  let previous = fromUs;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i];
    if (at < fromUs) continue;
    if (at > toUs) break;
    samples.push(profile.samples[i]);
    timeDeltas.push(at - previous);
    previous = at;
  }
  const hits = new Map<number, number>();
  for (const id of samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  return {
    nodes: profile.nodes.map((node) => ({ ...node, hitCount: hits.get(node.id) ?? 0, positionTicks: undefined })),
    startTime: fromUs,
    endTime: previous,
    samples,
    timeDeltas,
  };
}

// ---------------------------------------------------------------------------------------------------
// Readable locations: dist/*.js through its source map to src/*.ts, node_modules/… to the package path

const sourceMaps = new Map<string, SourceMap | undefined>();

function sourceMapOf(file: string): SourceMap | undefined {
  if (!sourceMaps.has(file)) {
    const mapFile = `${file}.map`;
    sourceMaps.set(
      file,
      existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as SourceMapPayload) : undefined,
    );
  }
  return sourceMaps.get(file);
}

/** The frame with its url made readable (project-relative, .ts where a source map says so); line stays 0-based. */
function readableFrame(frame: CallFrame): CallFrame {
  if (!frame.url.startsWith('file://')) return frame;
  const file = fileURLToPath(frame.url);
  const inDist = file.startsWith(join(ROOT, 'dist') + '/');
  const map = inDist && frame.lineNumber >= 0 ? sourceMapOf(file) : undefined;
  const entry = map?.findEntry(frame.lineNumber, frame.columnNumber);
  if (entry && 'originalSource' in entry) {
    const source = resolve(dirname(file), entry.originalSource.replace(/^file:\/\//, ''));
    return {
      ...frame,
      url: relative(ROOT, source),
      lineNumber: entry.originalLine,
      columnNumber: entry.originalColumn,
    };
  }
  return { ...frame, url: relative(ROOT, file) };
}

/** Who owns a location: a package name, `src` (our code), `node` (Node's own JS) or a V8 bucket. */
function ownerOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(V8 builtins / native)';
  if (url.startsWith('node:')) return 'node (core JS)';
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const [scope, name] = url.slice(modules + 'node_modules/'.length).split('/');
    return scope.startsWith('@') ? `${scope}/${name}` : scope;
  }
  return url.startsWith('src/') ? 'src (our code)' : url;
}

// ---------------------------------------------------------------------------------------------------
// The top-N table by self time

interface Row {
  name: string;
  location: string;
  owner: string;
  selfUs: number;
  totalUs: number;
  /** For a native function: self time by the JS function it ran for (the first caller outside Node core). */
  callers: Map<string, number>;
}

const CORE = new Set(['node (core JS)', '(V8 builtins / native)']);
const keyOf = (frame: CallFrame) => `${frame.functionName}\u0000${frame.url}\u0000${frame.lineNumber}`;
const locationOf = (frame: CallFrame) => (frame.url ? `${frame.url}:${frame.lineNumber + 1}` : '');

/**
 * Self time per function (function name + url + line), each sample counting for the time until the next;
 * total time counts a sample once for every distinct function on its stack. Parenthesised V8 buckets —
 * (garbage collector), (program), (idle) — stay rows of their own. Per package, time in Node core and V8
 * builtins (socket writes, crypto, …) is also credited to the first package up the stack that asked for it.
 */
function aggregate(profile: CpuProfile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const rows = new Map<string, Row>();
  for (const { callFrame: frame } of profile.nodes) {
    const key = keyOf(frame);
    if (rows.has(key) || frame.functionName === '(root)') continue;
    const name = frame.functionName || '(anonymous)';
    rows.set(key, {
      name,
      location: locationOf(frame),
      owner: ownerOf(frame),
      selfUs: 0,
      totalUs: 0,
      callers: new Map(),
    });
  }
  const stackKeys = new Map<number, Set<string>>(); // per node: the distinct functions from it to the root
  const keysOf = (id: number): Set<string> => {
    let keys = stackKeys.get(id);
    if (!keys) {
      const parent = parentOf.get(id);
      keys = new Set(parent === undefined ? [] : keysOf(parent));
      keys.add(keyOf(byId.get(id)!.callFrame));
      stackKeys.set(id, keys);
    }
    return keys;
  };
  // per node: the nearest frame at or above it outside Node core and V8 builtins, the code the work is for
  const clients = new Map<number, ProfileNode | undefined>();
  const clientOf = (id: number | undefined): ProfileNode | undefined => {
    if (id === undefined) return undefined;
    if (!clients.has(id)) {
      const node = byId.get(id)!;
      const outside = !CORE.has(ownerOf(node.callFrame)) && node.callFrame.functionName !== '(root)';
      clients.set(id, outside ? node : clientOf(parentOf.get(id)));
    }
    return clients.get(id);
  };
  const packages = new Map<string, { selfUs: number; withCoreUs: number }>();
  const packageOf = (owner: string) => {
    if (!packages.has(owner)) packages.set(owner, { selfUs: 0, withCoreUs: 0 });
    return packages.get(owner)!;
  };
  let windowUs = 0;
  let idleUs = 0;
  // a sample stands for the time until the next one; the last gets the mean interval
  const meanDelta = profile.timeDeltas.reduce((a, d) => a + d, 0) / Math.max(1, profile.timeDeltas.length);
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    const frame = byId.get(id)!.callFrame;
    const us = i + 1 < profile.timeDeltas.length ? profile.timeDeltas[i + 1] : meanDelta;
    windowUs += us;
    if (frame.functionName === '(idle)') idleUs += us;
    const own = rows.get(keyOf(frame));
    if (own) {
      own.selfUs += us;
      packageOf(own.owner).selfUs += us;
      const client = clientOf(id);
      packageOf(client ? ownerOf(client.callFrame) : own.owner).withCoreUs += us;
      if (!frame.url && !frame.functionName.startsWith('(') && client) {
        const caller = `${client.callFrame.functionName || '(anonymous)'} ${locationOf(client.callFrame)}`;
        own.callers.set(caller, (own.callers.get(caller) ?? 0) + us);
      }
    }
    for (const key of keysOf(id)) {
      const row = rows.get(key);
      if (row) row.totalUs += us;
    }
  }
  for (const row of rows.values()) {
    const [caller] = [...row.callers.entries()].sort((a, b) => b[1] - a[1]);
    if (caller) row.location = `native, for ${caller[0]}`;
  }
  return { rows: [...rows.values()].sort((a, b) => b.selfUs - a.selfUs), packages, windowUs, idleUs };
}

function table(headers: string[], lines: string[][], rightAligned: Set<number>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...lines.map((line) => line[i].length)));
  const cell = (text: string, i: number) => (rightAligned.has(i) ? text.padStart(widths[i]) : text.padEnd(widths[i]));
  return [headers, ...lines].map((line) => line.map(cell).join('  ').trimEnd()).join('\n');
}

function report(profile: CpuProfile, figures: Figures): string {
  const { rows, packages, windowUs, idleUs } = aggregate(profile);
  const ms = (us: number) => (us / 1000).toFixed(1);
  const pct = (us: number) => `${((100 * us) / windowUs).toFixed(1)}%`;
  const top = table(
    ['#', 'function', 'file:line', 'self ms', 'self %', 'total %'],
    rows.slice(0, TOP).map((r, i) => [String(i + 1), r.name, r.location, ms(r.selfUs), pct(r.selfUs), pct(r.totalUs)]),
    new Set([0, 3, 4, 5]),
  );
  const byPackage = table(
    ['package', 'self ms', 'self %', 'with core ms', 'with core %'],
    [...packages.entries()]
      .sort((a, b) => b[1].withCoreUs - a[1].withCoreUs)
      .filter(([, p]) => Math.max(p.selfUs, p.withCoreUs) / windowUs >= 0.001)
      .map(([owner, p]) => [owner, ms(p.selfUs), pct(p.selfUs), ms(p.withCoreUs), pct(p.withCoreUs)]),
    new Set([1, 2, 3, 4]),
  );
  return [
    `POST /api/stock/out, hot SKU, ${CONNECTIONS} connections, ${DURATION_S} s profiled (after ${WARMUP_S} s warm-up)`,
    `load: ${fmt(figures).trim()}`,
    `profile window: ${ms(windowUs)} ms, ${profile.samples.length} samples, busy ${pct(windowUs - idleUs)} (the rest is (idle): waiting for I/O)`,
    '',
    `Top ${TOP} by self time (self: in the function itself; total: with what it calls; % of the window)`,
    top,
    '',
    'Self time by package (with core: plus the Node core and V8 builtins it called, e.g. socket writes, crypto)',
    byPackage,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------------
// The run

const timestamp = () => new Date().toISOString().replace(/\..*$/, '').replace(/:/g, '-');

async function main(): Promise<void> {
  if (!(DURATION_S > 0)) {
    throw new Error(`PROFILE_DURATION must be a number of seconds, not ${process.env.PROFILE_DURATION}`);
  }
  await freshDatabase(DB_NAME);
  const password = 'profile-admin-password';
  const serviceEnv = benchServiceEnv(DB_NAME, password);

  const pool = createPool({ ...server, database: DB_NAME, connectionLimit: POOL_SIZE, timezone: 'Z' });
  let svc: ServiceProcess | undefined;
  let figures: Figures;
  let fromUs: number;
  let toUs: number;
  const outDir = join(ROOT, 'profile', timestamp());
  try {
    mkdirSync(outDir, { recursive: true });
    // --cpu-prof is refused in NODE_OPTIONS: on the command line; V8 writes the profile when SIGTERM ends it
    svc = await startServiceProcess(serviceEnv, [
      '--cpu-prof',
      `--cpu-prof-dir=${outDir}`,
      '--cpu-prof-name=service.cpuprofile',
    ]);
    await seed(pool);
    const token = await loginTo(svc.url, { username: 'admin', password });
    const hot = () => 1;
    console.log(`warming up ${WARMUP_S} s, then profiling ${DURATION_S} s of POST /api/stock/out on the hot SKU…`);
    await service(svc.url, token, hot, WARMUP_S);
    fromUs = Number(process.hrtime.bigint() / 1000n);
    figures = await service(svc.url, token, hot, DURATION_S);
    toUs = Number(process.hrtime.bigint() / 1000n);
    const code = await svc.stop();
    if (code !== 0) throw new Error(`service exited ${code} on SIGTERM; its log: ${svc.logFile}`);
    rmSync(svc.logFile); // every request's log line: megabytes nobody needs once the run went well
    svc = undefined;
  } finally {
    await svc?.stop();
    await pool.end();
    await dropDatabase(DB_NAME);
  }

  const rawFile = join(outDir, 'service.cpuprofile');
  if (!existsSync(rawFile)) throw new Error(`the service exited but wrote no ${rawFile}`);
  const raw = JSON.parse(readFileSync(rawFile, 'utf8')) as CpuProfile;
  const load = cutToWindow(raw, fromUs, toUs);
  if (load.samples.length < 100) {
    throw new Error(`only ${load.samples.length} samples fell in the load window: is the profile's clock monotonic?`);
  }
  load.nodes = load.nodes.map((node) => ({ ...node, callFrame: readableFrame(node.callFrame) }));
  const loadFile = join(outDir, 'load.cpuprofile');
  writeFileSync(loadFile, JSON.stringify(load));

  // 0x renders a .cpuprofile as one HTML file, {folder of the profile}/{name}.html, offline
  const flame = spawnSync(
    process.execPath,
    [
      require.resolve('0x/cmd.js'),
      '--visualize-cpu-profile',
      loadFile,
      '--name',
      'flamegraph',
      '--title',
      `POST /api/stock/out, hot SKU, ${CONNECTIONS} connections, ${DURATION_S} s — ${figures.ops.toFixed(0)} ops/s`,
      '--quiet',
    ],
    { encoding: 'utf8' },
  );
  const flameFile = join(outDir, 'flamegraph.html');
  if (flame.status !== 0 || !existsSync(flameFile)) {
    throw new Error(`0x could not render the flame graph (exit ${flame.status}):\n${flame.stderr}`);
  }

  const text = report(load, figures);
  writeFileSync(join(outDir, 'top.txt'), text);
  const shown = relative(ROOT, outDir);
  console.log(`\n${text}`);
  console.log(`Written to ${shown}/`);
  console.log(`  service.cpuprofile  raw profile of the whole process (Chrome DevTools, speedscope)`);
  console.log(`  load.cpuprofile     the ${DURATION_S} s of load only, src/*.ts locations`);
  console.log(`  flamegraph.html     flame graph of the load (open in a browser)`);
  console.log(`  top.txt             the tables above`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
