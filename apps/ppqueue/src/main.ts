#!/usr/bin/env node
/**
 * ppqueue: the Paranoid Pirate (6/PPP) queue as a daemon; `--simple` runs the Simple Pirate queue
 * (no heartbeats) on the same endpoints instead.
 *
 *   node_modules/.bin/ppqueue --frontend tcp://127.0.0.1:5560 --backend tcp://127.0.0.1:5561
 *
 * Every flag can also come from ZPAT_PPQUEUE_<FLAG> (ZPAT_PPQUEUE_FRONTEND); the command line wins.
 */
import {
  addDaemonOptions,
  bindEndpointFlag,
  checkMetricsPort,
  createProgram,
  createRootLogger,
  envOptions,
  gaugesOf,
  intFlag,
  logDeprecations,
  runDaemon,
  serverSecurityFromFlags,
  serveMetrics,
  statsCounters,
  statusSource,
  warnPlainBinds,
  watchServerSecurity,
  type LogLevel,
  type MetricsFlags,
  type ServerSecurityFlags,
} from '@zpatterns/app-kit';
import {
  DEFAULT_BACKEND,
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_FRONTEND,
  ParanoidPirateQueue,
  PPP_HEARTBEAT_INTERVAL_MS,
  PPP_HEARTBEAT_LIVENESS,
  SimplePirateQueue,
} from '@zpatterns/pirate';
import { queueStatus } from './status.js';

interface Flags extends ServerSecurityFlags, MetricsFlags {
  frontend: string;
  backend: string;
  heartbeatMs: number;
  liveness: number;
  maxQueuedBytes: number;
  simple: boolean;
  logLevel: LogLevel;
  pretty: boolean;
}

const program = createProgram('ppqueue', 'Paranoid Pirate (6/PPP) load-balancing queue with worker heartbeats')
  .option('--frontend <endpoint>', 'bind for clients (ROUTER)', bindEndpointFlag, DEFAULT_FRONTEND)
  .option('--backend <endpoint>', 'bind for workers (ROUTER)', bindEndpointFlag, DEFAULT_BACKEND)
  .option(
    '--heartbeat-ms <ms>',
    'heartbeat interval; must match the workers',
    intFlag(1, 3_600_000),
    PPP_HEARTBEAT_INTERVAL_MS,
  )
  .option('--liveness <n>', 'silent intervals before a worker is dead', intFlag(1, 1000), PPP_HEARTBEAT_LIVENESS)
  .option(
    '--max-queued-bytes <bytes>',
    'bytes of requests waiting for a free worker at most (NEW requests refused, i.e. dropped, past it)',
    intFlag(0, Number.MAX_SAFE_INTEGER),
    DEFAULT_MAX_QUEUED_BYTES,
  )
  .option('--simple', 'run the Simple Pirate queue instead (no heartbeats)', false);
addDaemonOptions(program);
envOptions(program, 'ZPAT_PPQUEUE');

program.parse(process.argv);
const flags = program.opts<Flags>();
const secured = serverSecurityFromFlags('ppqueue', flags);
const logger = createRootLogger({ name: 'ppqueue', level: flags.logLevel, pretty: flags.pretty });
logDeprecations(logger);
watchServerSecurity(secured, logger);

process.exitCode = await runDaemon({
  logger,
  start: async () => {
    // A taken metrics port stops the start before anything binds (or logs).
    await checkMetricsPort(flags);
    const queue = flags.simple
      ? await SimplePirateQueue.start({
          frontend: flags.frontend,
          backend: flags.backend,
          maxQueuedBytes: flags.maxQueuedBytes,
          maxMessageBytes: flags.maxMessageBytes,
          security: secured.security,
          logger,
        })
      : await ParanoidPirateQueue.start({
          frontend: flags.frontend,
          backend: flags.backend,
          heartbeatIntervalMs: flags.heartbeatMs,
          liveness: flags.liveness,
          maxQueuedBytes: flags.maxQueuedBytes,
          maxMessageBytes: flags.maxMessageBytes,
          security: secured.security,
          logger,
        });
    const { frontend, backend } = queue.endpoints;
    const metrics = await serveMetrics(flags, {
      logger,
      register: (registry) => {
        statsCounters(registry, 'ppqueue', () => queue.stats);
        gaugesOf(registry, 'ppqueue', () => ({ queuedRequests: queue.queued, queuedBytes: queue.queuedBytes }));
      },
      healthy: () => queue.running,
      cleanup: () => queue.close(),
      status: statusSource('ppqueue', queueStatus(queue)),
    });
    warnPlainBinds(secured, [frontend, backend], logger);
    return {
      handle: queue,
      metrics,
      shutdownDelayMs: flags.shutdownDelayMs,
      stats: () => queue.stats,
      ready: {
        endpoints: [frontend, backend],
        frontend,
        backend,
        mode: flags.simple ? 'simple' : 'paranoid',
        curve: secured.security !== undefined,
        ...(flags.simple ? {} : { heartbeatMs: flags.heartbeatMs, liveness: flags.liveness }),
      },
    };
  },
});
