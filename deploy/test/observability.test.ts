/**
 * The Grafana dashboards (deploy/grafana/<daemon>.json) and the alert rules
 * (deploy/prometheus/alerts.yml) against real daemons: every metric and every label they use is
 * one a running daemon exports on /metrics. A renamed metric or label fails here rather than
 * leaving an empty panel or an alert that can never fire. (`promtool check rules` in .ci/run checks
 * the rules' syntax.)
 *
 *   test ──GET /metrics──▶ mdbroker, titanic, ppqueue, bstarsrv, flserver, clonesrv (one each)
 */
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, Daemon, freePortRange, ipcEndpoint, useDisposables } from '@zpatterns/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dataDir = mkdtempSync(join(tmpdir(), 'observability-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Labels Prometheus adds to every series from the scrape target; `le` and `quantile` are real. */
const TARGET_LABELS = new Set(['instance', 'job']);
/** Series Prometheus makes itself. */
const SYNTHETIC = new Set(['up']);
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/** Metric name to the label names its samples carry, from the Prometheus text format. */
export function exported(text: string): Map<string, Set<string>> {
  const metrics = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? /.exec(line);
    if (m?.[1] === undefined) continue;
    const labels = metrics.get(m[1]) ?? new Set<string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) if (l[1] !== undefined) labels.add(l[1]);
    metrics.set(m[1], labels);
  }
  return metrics;
}

/** What an expression (with its legend or annotation text) needs: metric names, label names. */
export function referenced(expr: string, extra = ''): { metrics: string[]; labels: string[] } {
  const metrics = [...new Set([...expr.matchAll(/\b(zpatterns_[a-z0-9_]+|up)\b(?!\s*\()/g)].map((m) => m[1] ?? ''))];
  const labels = new Set<string>();
  for (const m of expr.matchAll(/\{([^}]*)\}/g)) {
    for (const l of (m[1] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) labels.add(l[1] ?? '');
  }
  for (const m of expr.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)) {
    for (const l of (m[1] ?? '').split(',')) if (l.trim() !== '') labels.add(l.trim());
  }
  for (const m of extra.matchAll(/\{\{\s*\$?(?:labels\.)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)) labels.add(m[1] ?? '');
  for (const m of extra.matchAll(/\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)/g)) labels.add(m[1] ?? '');
  return { metrics, labels: [...labels].filter((l) => !PROMQL_WORDS.has(l) && l !== 'value') };
}

/** Problems of `expr` against `metrics` (empty: every metric and label exists). */
export function problems(where: string, expr: string, extra: string, metrics: Map<string, Set<string>>): string[] {
  const out: string[] = [];
  const { metrics: names, labels } = referenced(expr, extra);
  if (names.length === 0) out.push(`${where}: no metric in ${expr}`);
  for (const name of names) if (!SYNTHETIC.has(name) && !metrics.has(name)) out.push(`${where}: ${name} not exported`);
  for (const label of labels) {
    if (TARGET_LABELS.has(label)) continue;
    if (!names.some((n) => metrics.get(n)?.has(label) === true))
      out.push(`${where}: label ${label} on none of ${names.join(', ')}`);
  }
  return out;
}

const scrape = async (d: Daemon): Promise<Map<string, Set<string>>> =>
  exported(await (await fetch(`${d.ready['metrics'] as string}/metrics`)).text());

describe('dashboards and alert rules', () => {
  const { track } = useDisposables();
  it('the checker finds a metric or label no daemon exports', () => {
    const metrics = exported('zpatterns_a_total{service="x"} 1\nzpatterns_b 2\n');
    expect(problems('t', 'rate(zpatterns_a_total{service="x"}[5m])', '{{service}}', metrics)).toEqual([]);
    expect(problems('t', 'sum by (state) (zpatterns_a_total)', '', metrics)).toEqual([
      't: label state on none of zpatterns_a_total',
    ]);
    expect(problems('t', 'zpatterns_c > 0', '', metrics)).toEqual(['t: zpatterns_c not exported']);
  });

  it('use only metrics and labels that real daemons export', async () => {
    const metricsPort = ['--metrics-port', '0'];
    // clonesrv binds three fixed ports: start it before the others take ephemeral ports (any of
    // which could be one of the three).
    const clonesrv = track(
      await Daemon.start({ bin: appBin('clonesrv'), args: ['--port', String(await freePortRange(3)), ...metricsPort] }),
    );
    const [broker, titanic, ppqueue, bstarsrv, flserver] = await Promise.all([
      Daemon.start({ bin: appBin('mdbroker'), args: ['--bind', 'tcp://127.0.0.1:*', ...metricsPort] }),
      Daemon.start({
        bin: appBin('titanic'),
        args: ['--with-broker', '--broker', 'tcp://127.0.0.1:*', '--data-dir', dataDir, ...metricsPort],
      }),
      Daemon.start({
        bin: appBin('ppqueue'),
        args: ['--frontend', 'tcp://127.0.0.1:*', '--backend', 'tcp://127.0.0.1:*', ...metricsPort],
      }),
      Daemon.start({
        bin: appBin('bstarsrv'),
        args: [
          ...['--ha', 'primary', '--frontend', ipcEndpoint('obs-fe'), '--state-bind', ipcEndpoint('obs-s')],
          ...['--state-connect', ipcEndpoint('obs-peer'), ...metricsPort],
        ],
      }),
      Daemon.start({ bin: appBin('flserver'), args: ['--bind', 'tcp://127.0.0.1:*', ...metricsPort] }),
    ]);
    for (const d of [broker, titanic, ppqueue, bstarsrv, flserver]) track(d);
    // Traffic, so that labelled series (per service, per histogram bucket) exist.
    const endpoint = (broker.ready['endpoints'] as string[])[0] ?? '';
    const worker = track(
      new MajordomoWorker({ broker: endpoint, service: 'echo', handler: (r) => r, heartbeatIntervalMs: 500 }),
    );
    await worker.start();
    const client = track(await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 5000, retries: 0 }));
    await client.request('echo', 'x');
    const titanicClient = track(
      await MajordomoClient.start({ broker: titanic.ready['broker'] as string, attemptTimeoutMs: 5000, retries: 0 }),
    );
    expect((await titanicClient.request('titanic.request', ['nobody', 'x']))[0]?.toString()).toBe('200');

    const byDaemon: Record<string, Map<string, Set<string>>> = {
      mdbroker: await scrape(broker),
      titanic: await scrape(titanic),
      ppqueue: await scrape(ppqueue),
      bstarsrv: await scrape(bstarsrv),
      flserver: await scrape(flserver),
      clonesrv: await scrape(clonesrv),
    };
    const all = new Map<string, Set<string>>();
    for (const m of Object.values(byDaemon)) {
      for (const [name, labels] of m) all.set(name, new Set([...(all.get(name) ?? []), ...labels]));
    }

    const found: string[] = [];
    const dashboards = readdirSync(join(root, 'deploy/grafana')).filter((f) => f.endsWith('.json'));
    expect(dashboards.sort()).toEqual(
      Object.keys(byDaemon)
        .map((d) => `${d}.json`)
        .sort(),
    );
    let exprs = 0;
    for (const file of dashboards) {
      const daemon = file.replace(/\.json$/, '');
      const metrics = byDaemon[daemon] ?? new Map<string, Set<string>>();
      const dashboard = JSON.parse(readFileSync(join(root, 'deploy/grafana', file), 'utf8')) as {
        panels: { title: string; targets: { expr: string; legendFormat?: string }[] }[];
        templating: { list: { query?: { query?: string } | string }[] };
      };
      for (const panel of dashboard.panels) {
        for (const t of panel.targets) {
          exprs++;
          found.push(...problems(`${file} "${panel.title}"`, t.expr, t.legendFormat ?? '', metrics));
        }
      }
      for (const v of dashboard.templating.list) {
        const q = typeof v.query === 'string' ? v.query : v.query?.query;
        if (q?.startsWith('label_values(') === true) found.push(...problems(`${file} variable`, q, '', metrics));
      }
    }
    const rules = readFileSync(join(root, 'deploy/prometheus/alerts.yml'), 'utf8');
    const blocks = rules.split(/\n\s+- alert: /).slice(1);
    expect(blocks.length).toBeGreaterThanOrEqual(10);
    for (const block of blocks) {
      const name = block.split('\n')[0] ?? '';
      const expr = /\n\s+expr: (.+)/.exec(block)?.[1] ?? '';
      exprs++;
      found.push(...problems(`alerts.yml ${name}`, expr, block, all));
    }
    expect(exprs).toBeGreaterThan(50);
    expect(found).toEqual([]);
  }, 120_000);
});
