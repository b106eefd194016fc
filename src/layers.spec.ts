import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** Lower layers never import higher ones: common ← config ← database ← modules ← the root (src/*.ts, cli). */
const LAYERS = ['common', 'config', 'database', 'modules', 'root'];
const SRC = join(process.cwd(), 'src');

function sources(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.spec.ts') ? [path] : [];
  });
}

/** The files of src/ that `file` imports. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/from '(\.{1,2}\/[^']*)'/g)].map((m) => relative(SRC, resolve(dirname(file), m[1])));
}

const layerOf = (path: string) => {
  const top = path.split('/')[0];
  return LAYERS.includes(top) ? top : 'root';
};

/** A feature module: modules/<name>, with stock/levels its own (stock_levels' owner). */
const featureOf = (path: string) => path.match(/^modules\/(stock\/levels|[^/]+)/)?.[1];

const edges = sources(SRC).flatMap((file) =>
  imports(file).map((target) => ({ from: relative(SRC, file), to: target })),
);

describe('layers', () => {
  it('no file imports a higher layer', () => {
    const upward = edges.filter(({ from, to }) => LAYERS.indexOf(layerOf(to)) > LAYERS.indexOf(layerOf(from)));
    expect(upward).toEqual([]);
  });

  it('feature modules depend on each other without a cycle', () => {
    const graph = new Map<string, Set<string>>();
    for (const { from, to } of edges) {
      const [a, b] = [featureOf(from), featureOf(to)];
      if (a && b && a !== b) graph.set(a, (graph.get(a) ?? new Set()).add(b));
    }
    const cycles: string[] = [];
    const visit = (node: string, path: string[]) => {
      if (path.includes(node)) return void cycles.push([...path, node].join(' → '));
      for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
    };
    for (const node of graph.keys()) visit(node, []);
    expect(cycles).toEqual([]);
    expect(graph.get('stock/levels')).toBeUndefined(); // it imports no other feature
  });
});
