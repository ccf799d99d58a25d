/**
 * Metrics and health for every daemon: `--metrics-port` / `--metrics-host` /
 * `--shutdown-delay-ms` (and `--metrics-services` where metrics carry a service label) flags, and
 * a small HTTP server answering `GET /metrics` (Prometheus text format, prom-client) and
 * `GET /healthz` (200 while the daemon says it is healthy, 503 otherwise).
 *
 *   Prometheus ──GET /metrics──▶ ┌───────────────┐  reads the daemon's counters at scrape time
 *   probe      ──GET /healthz──▶ │ metrics server│  200 ready and serving / 503 starting, closing
 *                                └───────────────┘
 *
 * Shutdown (driven by `runDaemon`): on SIGTERM `/healthz` turns 503 for good (`drain()`), the
 * daemon keeps serving for `--shutdown-delay-ms` (a second signal ends that delay), closes its
 * sockets, and the metrics server closes last.
 *
 *   SIGTERM ─▶ 503, still serving ─(delay or 2nd signal)─▶ sockets closed, 503 ─▶ refused, exit 0
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Option } from 'commander';
import { pino, type Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { BindError, Component, InvalidArgumentError, NotStartedError } from '@zpatterns/core';
import { hostFlag } from './endpoints.js';
import { intFlag } from './flags.js';
import { serveStatus, type StatusSource } from './status.js';

/** The flags `metricsOptions()` adds. */
export interface MetricsFlags {
  /** Absent: no metrics server. 0: an ephemeral port (printed in the ready line). */
  metricsPort?: number;
  /** Address the metrics server listens on. */
  metricsHost: string;
  /** With `metricsOptions({ services: true })` only. */
  metricsServices?: number;
  /** After SIGTERM: keep serving this long before closing (with `/healthz` at 503 if it runs). */
  shutdownDelayMs: number;
}

/**
 * `--metrics-port N` (off by default), `--metrics-host` (127.0.0.1), `--shutdown-delay-ms` (0, honoured
 * with or without a metrics server: return it from `start()` as `shutdownDelayMs`),
 * and with `services: true` `--metrics-services` (100), for daemons whose metrics have a
 * `service` label.
 */
export function metricsOptions(options: { services?: boolean } = {}): Option[] {
  const list = [
    new Option(
      '--metrics-port <port>',
      'serve GET /metrics, /healthz, /status and the status page (/) on this port (0: any free port)',
    ).argParser(intFlag(0, 65_535)),
    new Option('--metrics-host <host>', 'address of the metrics server')
      .argParser(hostFlag('bind'))
      .default('127.0.0.1'),
    new Option(
      '--shutdown-delay-ms <ms>',
      'on SIGTERM keep serving this long, then close (a 2nd signal ends the wait); /healthz answers 503 meanwhile',
    )
      .argParser(intFlag(0, 3_600_000))
      .default(0),
  ];
  if (options.services === true) {
    list.push(
      new Option('--metrics-services <n>', 'services with their own metrics label; the rest are "_other"')
        .argParser(intFlag(0, 100_000))
        .default(100),
    );
  }
  return list;
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

/** Options of `new MetricsServer(options)`. */
export interface MetricsServerOptions {
  /** TCP port to listen on; `0` lets the kernel choose (read it back from `url`). */
  port: number;
  /** Address to listen on, e.g. `127.0.0.1`. */
  host: string;
  /** Served at `/metrics` in the Prometheus text format. */
  registry: Registry;
  /** True once ready and while the main socket's receive loop runs. */
  healthy(): boolean;
  /** Logger for the server's own lines (bound, failed requests). */
  logger: Logger;
  /** How long `runDaemon` keeps serving after SIGTERM with `/healthz` at 503. @default 0 */
  shutdownDelayMs?: number;
  /** Served at `/status` (JSON) and as the status page at `/`; without it both are 404. */
  status?: StatusSource;
}

/**
 * The metrics and health HTTP server (`/metrics`, `/healthz`). `new MetricsServer(options)` opens
 * nothing; `start()` resolves once listening (`await MetricsServer.start(options)` does both).
 * `serveMetrics` builds one from a daemon's flags.
 */
export class MetricsServer extends Component {
  readonly #options: MetricsServerOptions;
  #server: Server | undefined;
  #url: string | undefined;
  #draining = false;

  constructor(options: MetricsServerOptions) {
    super();
    if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535) {
      throw new InvalidArgumentError(`MetricsServer: port must be an integer 0-65535, got ${options.port}`);
    }
    this.#options = options;
  }

  /** `http://host:port` actually bound; throws `NotStartedError` before `start()` has resolved. */
  get url(): string {
    if (this.#url === undefined) throw new NotStartedError('MetricsServer');
    return this.#url;
  }

  /** How long `runDaemon` keeps serving after SIGTERM with `/healthz` at 503. */
  get shutdownDelayMs(): number {
    return this.#options.shutdownDelayMs ?? 0;
  }

  /** Answer `/healthz` with 503 from now on, whatever `healthy()` says (the daemon is going away). */
  drain(): void {
    this.#draining = true;
  }

  /** Listen on `port` and `host`. */
  protected override async onStart(): Promise<void> {
    const { registry, logger } = this.#options;
    const healthy = (): boolean => !this.#draining && this.#options.healthy();
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
      const status = this.#options.status;
      if (status === undefined || !serveStatus(path ?? '/', req, res, status, logger)) res.writeHead(404).end();
    });
    const { port, host } = this.#options;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        const where = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
        reject(new BindError(where, `could not bind ${where} (--metrics-port)`, { cause: err }));
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.#server = server;
    const address = server.address() as AddressInfo;
    const bound = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.#url = `http://${bound}:${address.port}`;
    logger.info({ url: this.#url }, 'metrics server listening');
  }

  /** Stop listening and drop open connections. */
  protected override async onClose(): Promise<void> {
    this.#draining = true;
    const server = this.#server;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

/**
 * Fail now, with the `BindError` the metrics server would give, when `--metrics-port` is taken:
 * for a daemon that starts its metrics server last, so that nothing else starts (and logs) first.
 * The port is listened on and released at once.
 */
export async function checkMetricsPort(flags: MetricsFlags): Promise<void> {
  if (flags.metricsPort === undefined || flags.metricsPort === 0) return;
  const probe = new MetricsServer({
    port: flags.metricsPort,
    host: flags.metricsHost,
    registry: new Registry(),
    healthy: () => false,
    logger: pino({ level: 'silent' }),
  });
  await probe.start();
  await probe.close();
}

/** Options of `serveMetrics(flags, options)`. */
export interface ServeMetricsOptions {
  /** Logger for the metrics server's lines. */
  logger: Logger;
  /** True once ready and while the daemon's main socket is served. */
  healthy(): boolean;
  /** A registry made earlier (for metrics fed while serving); default: `createRegistry()`. */
  registry?: Registry;
  /** Add the daemon's own metrics to the registry. */
  register?(registry: Registry): void;
  /** Called when the server cannot start (port taken), before the error is rethrown: close what runs. */
  cleanup?(): Promise<unknown>;
  /** The daemon's `/status` document (and with it the status page at `/`). */
  status?: StatusSource;
}

/**
 * The metrics block every daemon shares: nothing without `--metrics-port`; otherwise a registry
 * with the process metrics and the daemon's own (`register`), served on `--metrics-host`, with
 * `--shutdown-delay-ms` for `runDaemon`. Return the server from `start()` as `metrics`: `runDaemon`
 * puts its URL in the ready line, drains it on SIGTERM and closes it last.
 */
export async function serveMetrics(
  flags: MetricsFlags,
  options: ServeMetricsOptions,
): Promise<MetricsServer | undefined> {
  if (flags.metricsPort === undefined) return undefined;
  const registry = options.registry ?? createRegistry();
  options.register?.(registry);
  try {
    return await MetricsServer.start({
      port: flags.metricsPort,
      host: flags.metricsHost,
      registry,
      healthy: () => options.healthy(),
      logger: options.logger,
      shutdownDelayMs: flags.shutdownDelayMs,
      ...(options.status === undefined ? {} : { status: options.status }),
    });
  } catch (err) {
    await options.cleanup?.();
    throw err;
  }
}
