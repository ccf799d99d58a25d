/**
 * Daemon lifecycle: log one `ready` line naming the endpoints once serving, and shut down cleanly
 * on SIGINT/SIGTERM (a second signal forces the exit).
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
  let started: { handle: DaemonHandle; ready: Record<string, unknown> };
  try {
    started = await options.start();
  } catch (err) {
    logger.fatal({ err }, 'failed to start');
    return 1;
  }
  logger.info(started.ready, 'ready');
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal, exiting now');
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      const timer = setTimeout(() => {
        logger.error({ timeoutMs: options.shutdownTimeoutMs ?? 10_000 }, 'clean shutdown timed out');
        process.exit(1);
      }, options.shutdownTimeoutMs ?? 10_000);
      timer.unref();
      started.handle.close().then(
        () => {
          clearTimeout(timer);
          logger.info('stopped');
          resolve(0);
        },
        (err: unknown) => {
          clearTimeout(timer);
          logger.error({ err }, 'error during shutdown');
          resolve(1);
        },
      );
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}
