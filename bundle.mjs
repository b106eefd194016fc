// `npm run build`, after `nest build`: the service's start (dist/src/main.js and everything it loads) as
// one file, dist/server.js. NestJS 12's packages are ES modules loaded through require(esm), without
// V8's code cache on Node 20, and a start resolved and read ~900 files: 1.4–1.6 s of a 2.1–2.5 s cold
// start went to loading. From one file a cold start takes ~1.3 s (`BENCH_ONLY=start npm run bench`).
import { readFile } from 'node:fs/promises';
import { build } from 'esbuild';

/** Loaded at run time from node_modules, not bundled. */
const external = [
  // native addons
  'better-sqlite3',
  'argon2',
  // OpenTelemetry patches these as they are required (and loads only when configured)
  'mysql2',
  'pino',
  '@opentelemetry/*',
  // optional: loaded only when their setting asks for them
  'ioredis',
  'amqplib',
  'undici',
  'pino-pretty',
  // serves files from its own folder (/docs)
  'swagger-ui-dist',
  // what NestJS and TypeORM load only if installed (this service installs none of them)
  '@nestjs/microservices',
  '@nestjs/websockets',
  '@nestjs/platform-express',
  '@fastify/multipart',
  '@fastify/view',
  // @nestjs/mapped-types tries this path and falls back when it fails (class-transformer 0.5 has none)
  'class-transformer/storage',
];

/**
 * Packages' code as loaded from node_modules, with two changes. NestJS 12's packages load their optional
 * peers (typeorm, class-validator…) through `createRequire(import.meta.url)`, which a bundler cannot
 * follow: without that line their `require` calls are the module's own, which esbuild resolves and
 * bundles like any other. And a package's own source map is dropped: chained, its paths lose the
 * package's name (class-validator's `../src/…`), and `npm run profile` must say which package ran.
 */
const fromNodeModules = {
  name: 'from-node-modules',
  setup(bundle) {
    bundle.onLoad({ filter: /[\\/]node_modules[\\/].*\.[cm]?js$/ }, async ({ path }) => {
      let contents = (await readFile(path, 'utf8')).replace(/^\/\/# sourceMappingURL=.*$/m, '');
      if (/[\\/]node_modules[\\/]@nestjs[\\/]/.test(path)) {
        contents = contents.replace('const require = createRequire(import.meta.url);', '');
      }
      return { contents, loader: 'js' };
    });
  },
};

await build({
  entryPoints: ['dist/src/main.js'],
  outfile: 'dist/server.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external,
  // class names as in dist/src: Nest's logger contexts use them (its lazily loaded classes would be `_X`
  // without). The wrapper it adds to functions made at run time shows in CPU profiles (~6 % of the hot
  // path's samples) but not in throughput: interleaved A/B, with ÷ without 1.03, bundle ÷ dist/src 0.99
  keepNames: true,
  // to src/*.ts (through tsc's maps) and node_modules: for `node --enable-source-maps` and `npm run profile`
  sourcemap: true,
  banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__importMetaUrl' },
  plugins: [fromNodeModules],
  logLevel: 'warning',
  // the swagger plugin's metadata repeats `enum` for enum-typed DTO fields (the later one wins, as intended)
  logOverride: { 'duplicate-object-key': 'silent' },
});
