/**
 * Metrics and health for every daemon: `--metrics-port` / `--metrics-host` / `--metrics-services`
 * flags, and a small HTTP server answering `GET /metrics` (Prometheus text format, prom-client)
 * and `GET /healthz` (200 while the daemon says it is healthy, 503 otherwise).
 *
 *   Prometheus ──GET /metrics──▶ ┌───────────────┐  reads the daemon's counters at scrape time
 *   probe      ──GET /healthz──▶ │ metrics server│  200 ready and serving / 503 starting, closing
 *                                └───────────────┘
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Option } from 'commander';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { intFlag } from './flags.js';

/** The flags `metricsOptions()` adds. */
export interface MetricsFlags {
  /** Absent: no metrics server. 0: an ephemeral port (printed in the ready line). */
  metricsPort?: number;
  metricsHost: string;
  metricsServices: number;
}

/** `--metrics-port N` (off by default), `--metrics-host` (127.0.0.1), `--metrics-services` (100). */
export function metricsOptions(): Option[] {
  return [
    new Option(
      '--metrics-port <port>',
      'serve GET /metrics and GET /healthz on this port (0: any free port)',
    ).argParser(intFlag(0, 65_535)),
    new Option('--metrics-host <host>', 'address of the metrics server').default('127.0.0.1'),
    new Option('--metrics-services <n>', 'services with their own metrics label; the rest are "_other"')
      .argParser(intFlag(0, 100_000))
      .default(100),
  ];
}

/** A registry with prom-client's default process metrics (CPU, memory, event loop lag, ...). */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'zpatterns_' });
  return registry;
}

/**
 * One counter per field of a daemon's `stats` object, read at scrape time:
 * `stats.expiredRequests` becomes `zpatterns_<prefix>_expired_requests_total`.
 */
export function statsCounters(registry: Registry, prefix: string, stats: () => object): void {
  for (const key of Object.keys(flatten(stats()))) {
    new Counter({
      name: `zpatterns_${prefix}_${snake(key)}_total`,
      help: `${prefix} stats.${key}`,
      registers: [registry],
      collect() {
        const now = flatten(stats())[key];
        this.reset();
        if (now !== undefined) this.inc(now);
      },
    });
  }
}

/** Numeric fields, nested objects one level down joined with `_` (`dispatch.sent`: `dispatch_sent`). */
function flatten(stats: object): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(stats) as [string, unknown][]) {
    if (typeof value === 'number') out[key] = value;
    else if (typeof value === 'object' && value !== null) {
      for (const [inner, v] of Object.entries(value)) if (typeof v === 'number') out[`${key}_${inner}`] = v;
    }
  }
  return out;
}

/** One gauge per numeric field of `gauges()`, read at scrape time. */
export function gaugesOf(registry: Registry, prefix: string, gauges: () => Record<string, unknown>): void {
  for (const key of Object.keys(gauges())) {
    new Gauge({
      name: `zpatterns_${prefix}_${snake(key)}`,
      help: `${prefix} ${key}`,
      registers: [registry],
      collect() {
        const now = gauges()[key];
        if (typeof now === 'number') this.set(now);
      },
    });
  }
}

/** Bounded label values: the first `max` distinct names keep their own, the rest are `_other`. */
export function boundedLabels(max: number): (name: string) => string {
  const known = new Set<string>();
  return (name) => {
    if (known.has(name)) return name;
    if (known.size < max) {
      known.add(name);
      return name;
    }
    return '_other';
  };
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export interface MetricsServerOptions {
  port: number;
  host: string;
  registry: Registry;
  /** True once ready and while the main socket's receive loop runs. */
  healthy(): boolean;
  logger: Logger;
}

export interface MetricsServer {
  /** `http://host:port` actually bound. */
  readonly url: string;
  close(): Promise<void>;
}

/** Serve `/metrics` and `/healthz`; resolves once listening. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { registry, logger } = options;
  const healthy = (): boolean => options.healthy();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/healthz') {
      const ok = healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'unavailable\n');
      return;
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => {
          logger.warn({ err }, 'metrics collection failed');
          res.writeHead(500).end();
        },
      );
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info({ url }, 'metrics server listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
