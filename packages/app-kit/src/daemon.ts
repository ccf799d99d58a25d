/**
 * Daemon lifecycle: log one `ready` line naming the endpoints once serving, and shut down cleanly
 * on SIGINT/SIGTERM (a second signal forces the exit).
 *
 * With a metrics server (`metrics` returned by `start()`), shutdown runs in this order:
 *
 *   signal ─▶ /healthz 503 ('shutting down') ─▶ keep serving `shutdownDelayMs` ('draining'; a
 *   second signal ends it) ─▶ handle.close() ─▶ metrics server closed last ─▶ 'stopped'
 *
 * so a probe sees 503 for as long as the daemon is going away, and is refused only once it is gone.
 * A signal after the delay, while closing, forces the exit: code 143 for SIGTERM, 130 for SIGINT.
 * Without a metrics server the delay (`shutdownDelayMs` of `start()`'s result) runs the same way.
 *
 * The signal handlers are installed before `start()` runs, so a supervisor that signals the moment
 * it reads the ready line (or even earlier, during start-up) always gets a clean shutdown, never
 * the default action of a signal with no handler. A signal during start-up aborts `start()`'s
 * signal: a start that honours it ends at once, and the run ends with 'stopped', exit 0.
 *
 * A start that fails is one line on stderr (`mdbroker: cannot bind ...: address in use
 * (ERR_BIND)`, see `startup.ts`), exit 1, and nothing else: no 'ready', no 'stopped'.
 */
import type { Logger } from 'pino';
import { AbortError } from '@zpatterns/core';
import type { MetricsServer } from './metrics.js';
import { reportStartupFailure } from './startup.js';

/** What `runDaemon` closes on shutdown: usually the daemon's main component. */
export interface DaemonHandle {
  /** Close everything; the process exits when this resolves. */
  close(): Promise<void>;
}

/** What `RunDaemonOptions.start()` resolves with. */
export interface DaemonStarted {
  /** What to close on SIGINT/SIGTERM. */
  handle: DaemonHandle;
  /** Fields of the `ready` log line, e.g. `{ endpoints: { frontend } }`. */
  ready: Record<string, unknown>;
  /** The metrics server, when one runs: drained on the signal and closed after `handle`. */
  metrics?: MetricsServer | undefined;
  /**
   * Keep serving this long after the first signal before closing, also without a metrics server
   * (with one, its `shutdownDelayMs` applies). @default 0
   */
  shutdownDelayMs?: number | undefined;
  /** The run's counters, logged once as `stats` on the end-of-run line ('stopped'). */
  stats?: (() => object) | undefined;
}

/** Options of `runDaemon(options)`. */
export interface RunDaemonOptions {
  /** The app's root logger; the ready and shutdown lines go here. */
  logger: Logger;
  /** The program's name, which starts the failure line. @default the logger's `name` */
  name?: string;
  /**
   * Start serving; return what to close, the fields of the ready line (e.g. `endpoints`), and the
   * metrics server if any (its URL is added to the ready line as `metrics`; it is drained on the
   * signal and closed after `handle`). `signal` aborts on SIGINT/SIGTERM during start-up: stop
   * waiting (for a peer, say), close what is open and reject.
   */
  start(signal: AbortSignal): Promise<DaemonStarted>;
  /** Give up on a clean shutdown after this long. @default 10000 */
  shutdownTimeoutMs?: number;
}

/**
 * Start the daemon, print the ready line, and wire the signals. Resolves with the exit code when
 * the daemon has stopped.
 */
export async function runDaemon(options: RunDaemonOptions): Promise<number> {
  const { logger } = options;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;
  let requested: (signal: NodeJS.Signals) => void = () => undefined;
  const stopRequested = new Promise<NodeJS.Signals>((resolve) => (requested = resolve));
  /** Set while the shutdown delay runs: a further signal ends the delay instead of the process. */
  let endDelay: ((signal: NodeJS.Signals) => void) | undefined;
  let signals = 0;
  const starting = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals === 1) {
      requested(signal);
      starting.abort(new AbortError(`${signal} during start-up`));
      return;
    }
    if (endDelay !== undefined) {
      endDelay(signal);
      return;
    }
    logger.warn({ signal }, 'second signal, exiting now');
    // 128 + the signal number, as a shell reports a process the signal ended.
    process.exit(signal === 'SIGTERM' ? 143 : 130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // SIGHUP means reload (systemd's ExecReload, `kill -HUP`), never stop: with no handler Node would
  // exit on it. What can be reloaded (the CURVE allow-list) adds its own handler; this one only logs.
  const onHangup = (): void => logger.info({ signal: 'SIGHUP' }, 'reload requested');
  process.on('SIGHUP', onHangup);
  try {
    let started: DaemonStarted;
    try {
      started = await options.start(starting.signal);
    } catch (err) {
      if (starting.signal.aborted) {
        logger.info({ signal: await stopRequested }, 'stopped during start-up');
        return 0;
      }
      const name = options.name ?? String(logger.bindings()['name'] ?? 'daemon');
      return reportStartupFailure(name, err, { logger });
    }
    const { metrics } = started;
    if (signals === 0) {
      logger.info({ ...started.ready, ...(metrics === undefined ? {} : { metrics: metrics.url }) }, 'ready');
    }
    const signal = await stopRequested;
    // 503 from here on: whoever probes /healthz after this line learns the daemon is going away.
    metrics?.drain();
    logger.info({ signal }, 'shutting down');
    const delayMs = metrics?.shutdownDelayMs ?? started.shutdownDelayMs ?? 0;
    if (delayMs > 0) {
      logger.info({ delayMs }, 'draining: still serving, /healthz 503');
      const ended = await new Promise<NodeJS.Signals | 'elapsed'>((resolve) => {
        const delay = setTimeout(() => resolve('elapsed'), delayMs);
        endDelay = (again) => {
          clearTimeout(delay);
          resolve(again);
        };
      });
      endDelay = undefined;
      logger.info({ ended }, 'drained');
    }
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: shutdownTimeoutMs }, 'clean shutdown timed out');
      process.exit(1);
    }, shutdownTimeoutMs);
    timer.unref();
    try {
      try {
        await started.handle.close();
      } finally {
        await metrics?.close();
      }
      logger.info(started.stats === undefined ? {} : { stats: started.stats() }, 'stopped');
      return 0;
    } catch (err) {
      logger.error({ err }, 'error during shutdown');
      return 1;
    } finally {
      clearTimeout(timer);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onHangup);
  }
}
