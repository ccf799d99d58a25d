/**
 * Daemon lifecycle: log one `ready` line naming the endpoints once serving, and shut down cleanly
 * on SIGINT/SIGTERM (a second signal forces the exit).
 *
 * The signal handlers are installed before `start()` runs, so a supervisor that signals the moment
 * it reads the ready line (or even earlier, during start-up) always gets a clean shutdown, never
 * the default action of a signal with no handler.
 */
import type { Logger } from 'pino';

export interface DaemonHandle {
  /** Close everything; the process exits when this resolves. */
  close(): Promise<void>;
}

export interface RunDaemonOptions {
  logger: Logger;
  /** Start serving; return what to close and the fields of the ready line (e.g. `endpoints`). */
  start(): Promise<{ handle: DaemonHandle; ready: Record<string, unknown> }>;
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
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal, exiting now');
      process.exit(130);
    }
    requested(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let started: { handle: DaemonHandle; ready: Record<string, unknown> };
    try {
      started = await options.start();
    } catch (err) {
      logger.fatal({ err }, 'failed to start');
      return 1;
    }
    if (signals === 0) logger.info(started.ready, 'ready');
    const signal = await stopRequested;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: shutdownTimeoutMs }, 'clean shutdown timed out');
      process.exit(1);
    }, shutdownTimeoutMs);
    timer.unref();
    try {
      await started.handle.close();
      logger.info('stopped');
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
  }
}
