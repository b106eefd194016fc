import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetricsService } from '../src/common/metrics/metrics.service';

interface Dashboard {
  panels: { title: string; targets: { expr: string }[] }[];
}

const dashboard = JSON.parse(
  readFileSync(join(process.cwd(), 'docker', 'grafana', 'dashboards', 'inventory.json'), 'utf8'),
) as Dashboard;
const PROMQL_WORDS = new Set(['sum', 'by', 'rate', 'histogram_quantile', 'le', 'without', 'avg', 'max', 'min']);

/** Metric names a PromQL expression reads: identifiers followed by `{`, `[` or `)`, minus functions and labels. */
function metricsIn(expr: string): string[] {
  const withoutLabels = expr.replace(/\{[^}]*\}/g, '{}').replace(/by \([^)]*\)/g, '');
  return [...withoutLabels.matchAll(/\b([a-z_][a-z0-9_]*)\s*(?=[{[)])/g)]
    .map((m) => m[1])
    .filter((name) => !PROMQL_WORDS.has(name) && !name.startsWith('$'));
}

describe('Grafana dashboard', () => {
  const metrics = new MetricsService();
  const exported = new Set(
    metrics.registry
      .getMetricsAsArray()
      .flatMap((m) =>
        String(m.type) === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
      ),
  );
  const panels = dashboard.panels.flatMap((p) => p.targets.map((t) => [p.title, t.expr] as const));

  it('has the panels operators need', () => {
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ');
    for (const topic of [
      'requests',
      'latency',
      'movements',
      'rejected',
      'retries',
      'lock',
      'pool',
      'outbox',
      'webhook',
      'reconcile',
      'ready',
      'cache',
    ]) {
      expect(titles).toContain(topic);
    }
  });

  it.each(panels)('%s queries only metrics the service exports: %s', (_, expr) => {
    const names = metricsIn(expr);
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((name) => !exported.has(name))).toEqual([]);
  });
});
