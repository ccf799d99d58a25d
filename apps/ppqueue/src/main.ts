#!/usr/bin/env node
/**
 * ppqueue: the Paranoid Pirate (6/PPP) queue as a daemon; `--simple` runs the Simple Pirate queue
 * (no heartbeats) on the same endpoints instead.
 *
 *   npx ppqueue --frontend tcp://127.0.0.1:5555 --backend tcp://127.0.0.1:5556
 */
import {
  createProgram,
  createRootLogger,
  endpointFlag,
  intFlag,
  logLevelOption,
  prettyOption,
  runDaemon,
  type RootLoggerOptions,
} from '@zpatterns/app-kit';
import {
  DEFAULT_BACKEND,
  DEFAULT_FRONTEND,
  ParanoidPirateQueue,
  PPP_HEARTBEAT_INTERVAL_MS,
  PPP_HEARTBEAT_LIVENESS,
  SimplePirateQueue,
} from '@zpatterns/pirate';

interface Flags {
  frontend: string;
  backend: string;
  heartbeatMs: number;
  liveness: number;
  maxQueued: number;
  simple: boolean;
  logLevel: NonNullable<RootLoggerOptions['level']>;
  pretty: boolean;
}

const program = createProgram('ppqueue', 'Paranoid Pirate (6/PPP) load-balancing queue with worker heartbeats')
  .option('--frontend <endpoint>', 'bind for clients (ROUTER)', endpointFlag, DEFAULT_FRONTEND)
  .option('--backend <endpoint>', 'bind for workers (ROUTER)', endpointFlag, DEFAULT_BACKEND)
  .option(
    '--heartbeat-ms <ms>',
    'heartbeat interval; must match the workers',
    intFlag(1, 3_600_000),
    PPP_HEARTBEAT_INTERVAL_MS,
  )
  .option('--liveness <n>', 'silent intervals before a worker is dead', intFlag(1, 1000), PPP_HEARTBEAT_LIVENESS)
  .option(
    '--max-queued <n>',
    'requests kept while no worker is free (oldest dropped past it)',
    intFlag(0, 10_000_000),
    10_000,
  )
  .option('--simple', 'run the Simple Pirate queue instead (no heartbeats)', false)
  .addOption(logLevelOption())
  .addOption(prettyOption());

program.parse(process.argv);
const flags = program.opts<Flags>();
const logger = createRootLogger({ name: 'ppqueue', level: flags.logLevel, pretty: flags.pretty });

process.exitCode = await runDaemon({
  logger,
  start: async () => {
    const queue = flags.simple
      ? await SimplePirateQueue.start({
          frontend: flags.frontend,
          backend: flags.backend,
          maxQueuedRequests: flags.maxQueued,
          logger,
        })
      : await ParanoidPirateQueue.start({
          frontend: flags.frontend,
          backend: flags.backend,
          heartbeatIntervalMs: flags.heartbeatMs,
          liveness: flags.liveness,
          maxQueuedRequests: flags.maxQueued,
          logger,
        });
    const { frontend, backend } = queue.endpoints;
    holdEarlySignals();
    return {
      handle: {
        close: async () => {
          logger.info({ stats: queue.stats }, 'final stats');
          await queue.close();
        },
      },
      ready: {
        endpoints: [frontend, backend],
        frontend,
        backend,
        mode: flags.simple ? 'simple' : 'paranoid',
        ...(flags.simple ? {} : { heartbeatMs: flags.heartbeatMs, liveness: flags.liveness }),
      },
    };
  },
});

/**
 * Work around a race in app-kit's `runDaemon`: it prints the ready line *before* it installs its
 * SIGINT/SIGTERM handlers, so a supervisor that signals as soon as it reads `ready` can kill the
 * process with the default action (seen in tests on a busy 2-core machine). Called at the end of
 * `start()`: signals that arrive before runDaemon's handlers exist are held and re-raised once
 * they do. Remove when runDaemon installs its handlers before logging `ready`.
 */
function holdEarlySignals(): void {
  const held: NodeJS.Signals[] = [];
  const hold = (signal: NodeJS.Signals): void => {
    if (process.listenerCount(signal) === 1) held.push(signal);
  };
  process.on('SIGINT', hold);
  process.on('SIGTERM', hold);
  setImmediate(() => {
    process.off('SIGINT', hold);
    process.off('SIGTERM', hold);
    const signal = held[0];
    if (signal !== undefined) process.kill(process.pid, signal);
  });
}
