import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { MetricsService } from '../src/common/metrics/metrics.service';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface AlertCase {
  eval_time: string;
  alertname: string;
  exp_alerts?: unknown[] | null;
}
interface RuleTests {
  rule_files: string[];
  tests: { name: string; alert_rule_test?: AlertCase[] }[];
}

const ROOT = process.cwd();
const RULES = 'docker/prometheus/alerts.yml';
const RULE_TESTS = 'docker/prometheus/alerts.test.yml';
const readYaml = <T>(path: string) => parse(readFileSync(join(ROOT, path), 'utf8')) as T;

const rules = readYaml<{ groups: { name: string; rules: Rule[] }[] }>(RULES).groups.flatMap((g) => g.rules);
const alerts = rules.filter((r): r is Rule & { alert: string } => r.alert !== undefined);
const cases = readYaml<RuleTests>(RULE_TESTS).tests.flatMap((t) => t.alert_rule_test ?? []);

/** Runs promtool from the repository root; without it the suite fails (never skips) and says how to get it. */
function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error(
      "promtool is not installed: install Debian's `prometheus` package, which ships it " +
        '(`apt-get update && apt-get install -y prometheus`; .ci/run does this when promtool is missing).',
    );
  }
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

const PROMQL_KEYWORDS = new Set(['and', 'or', 'unless', 'offset', 'bool']);

/** Metric names a PromQL expression reads: bare identifiers once strings, matchers, ranges, label lists and calls are gone. */
function metricsIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  return [...bare.matchAll(/(?<![\w.])([a-zA-Z_:][\w:]*)\b(?!\s*\()/g)]
    .map((m) => m[1])
    .filter((name) => !PROMQL_KEYWORDS.has(name));
}

describe('Prometheus alert rules (docker/prometheus/alerts.yml)', () => {
  it('promtool check rules accepts every rule', () => {
    const { status, output } = promtool('check', 'rules', RULES);
    expect({ status, output }).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
    expect(output).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('promtool test rules passes every case of alerts.test.yml', () => {
    const { status, output } = promtool('test', 'rules', RULE_TESTS);
    expect({ status, output }).toEqual({ status: 0, output: expect.stringMatching(/^\s*SUCCESS\s*$/m) });
    expect(output).not.toContain('FAILED');
  });

  it('has the alerts the issue asks for', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(15);
    const exprs = alerts.map((a) => a.expr).join('\n');
    for (const metric of [
      'http_request_duration_seconds_bucket',
      'http_requests_total',
      'inventory_http_shed_total',
      'inventory_stock_lock_wait_seconds_bucket',
      'inventory_db_retries_total',
      'inventory_stock_rejections_total',
      'inventory_ready',
      'up',
      'inventory_reconcile_mismatches',
      'inventory_outbox_pending',
      'inventory_webhook_deliveries_total',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
    ]) {
      expect(exprs).toMatch(new RegExp(`\\b${metric}\\b`));
    }
  });

  it.each(alerts.map((a) => [a.alert, a] as const))(
    '%s pages or opens a ticket, waits, and says what to do',
    (_, alert) => {
      expect(alert.for).toMatch(/^\d+[smh]$/);
      expect(['page', 'ticket']).toContain(alert.labels?.severity);
      for (const key of ['summary', 'description', 'runbook']) expect(alert.annotations?.[key]).toBeTruthy();
    },
  );

  it.each(alerts.map((a) => a.alert))('%s has a case where it fires and one where it stays silent', (name) => {
    const mine = cases.filter((c) => c.alertname === name);
    expect({ name, fires: mine.some((c) => (c.exp_alerts ?? []).length > 0) }).toEqual({ name, fires: true });
    expect({ name, silent: mine.some((c) => (c.exp_alerts ?? []).length === 0) }).toEqual({ name, silent: true });
  });

  it('the test cases name only alerts that exist (a misspelt silent case would pass for nothing)', () => {
    const names = new Set(alerts.map((a) => a.alert));
    expect([...new Set(cases.map((c) => c.alertname))].filter((n) => !names.has(n))).toEqual([]);
    expect(readYaml<RuleTests>(RULE_TESTS).rule_files).toEqual(['alerts.yml']);
  });

  it('reads only metrics the service exports, or Prometheus’s own up', () => {
    const exported = new Set(['up']);
    for (const metric of new MetricsService().registry.getMetricsAsArray()) {
      const type = String(metric.type);
      if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(metric.name + suffix);
      else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) exported.add(metric.name + suffix);
      else exported.add(metric.name);
    }
    const unknown = rules.flatMap((r) =>
      metricsIn(r.expr)
        .filter((name) => !exported.has(name))
        .map((name) => [r.alert, name]),
    );
    expect(unknown).toEqual([]);
    expect(metricsIn(rules[0].expr)).toEqual(['up']); // the extraction itself finds names
  });

  it('can rely on the webhook outcomes being exported at 0 from the start (the failure alert uses increase() alone)', async () => {
    const exported = await new MetricsService().registry.getSingleMetricAsString('inventory_webhook_deliveries_total');
    for (const outcome of ['delivered', 'retry', 'failed']) {
      expect(exported).toContain(`inventory_webhook_deliveries_total{outcome="${outcome}"} 0`);
    }
  });

  it('is loaded by the compose Prometheus', () => {
    const config = readYaml<{ rule_files?: string[] }>('docker/prometheus/prometheus.yml');
    expect(config.rule_files).toEqual(['alerts.yml']); // relative to prometheus.yml: /etc/prometheus/alerts.yml
    const compose = readYaml<{ services: Record<string, { volumes?: string[] }> }>('docker/compose.yaml');
    expect(compose.services.prometheus.volumes).toContain('./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro');
  });
});
