#!/usr/bin/env node
/**
 * mdbroker: the Majordomo broker (7/MDP and 18/MDP on one ROUTER, 8/MMI) as a daemon.
 *
 *   node_modules/.bin/mdbroker --bind tcp://127.0.0.1:5555 [--bind ipc:///tmp/mdp.sock] [--idempotent echo]
 *
 * Every flag can also come from ZPAT_MDBROKER_<FLAG> (`--heartbeat-ms`: ZPAT_MDBROKER_HEARTBEAT_MS);
 * the command line wins.
 *
 * Prints one JSON `ready` line naming the bound endpoints, logs JSON lines, and shuts down cleanly
 * on SIGINT/SIGTERM (workers get DISCONNECT so they re-register elsewhere at once).
 */
import { InvalidArgumentError, Option } from 'commander';
import {
  addDaemonOptions,
  bindEndpointFlag,
  boundedLabels,
  checkMetricsPort,
  collect,
  connectEndpointFlag,
  createRegistry,
  createProgram,
  createRootLogger,
  envOptions,
  intFlag,
  gaugesOf,
  logDeprecations,
  pairMetrics,
  runDaemon,
  serverSecurityFromFlags,
  pairCurve,
  warnPlainBinds,
  watchServerSecurity,
  serveMetrics,
  statsCounters,
  statusSource,
  type LogLevel,
  type MetricsFlags,
  type ServerSecurityFlags,
} from '@zpatterns/app-kit';
import { BinaryStar, BSTAR_HEARTBEAT_MS, type BStarRole } from '@zpatterns/bstar';
import { Broker, brokerDefaults, DEFAULT_BROKER_ENDPOINT } from '@zpatterns/majordomo';
import { observeBroker } from '@zpatterns/majordomo/internal';
import { ServiceMetrics } from './service-metrics.js';
import { serviceGauges } from './service-gauges.js';
import { brokerStatus } from './status.js';

interface Flags extends ServerSecurityFlags, MetricsFlags {
  bind?: string[];
  workerBind?: string[];
  workerAllowKeys?: string;
  heartbeatMs: number;
  liveness: number;
  requestTtlMs: number;
  maxQueuedBytes: number;
  maxQueuedBytesPerClient: number;
  idempotent?: string[];
  statsIntervalMs: number;
  ha?: BStarRole;
  stateBind?: string;
  stateConnect?: string;
  haHeartbeatMs: number;
  logLevel: LogLevel;
  pretty: boolean;
}

function serviceName(value: string): string {
  if (value.length === 0) throw new InvalidArgumentError('expected a service name, got an empty string');
  if (value.startsWith('mmi.')) throw new InvalidArgumentError(`'${value}' is reserved for MMI`);
  return value;
}

const program = createProgram('mdbroker', 'Majordomo broker: MDP/0.1 and MDP/0.2 clients and workers, MMI')
  .option(
    '--bind <endpoint>',
    `endpoint to bind, repeatable (default: "${DEFAULT_BROKER_ENDPOINT}")`,
    collect(bindEndpointFlag),
  )
  .option(
    '--worker-bind <endpoint>',
    'per-role sockets: a second endpoint for workers, repeatable; worker commands on --bind then get DISCONNECT',
    collect(bindEndpointFlag),
  )
  .option(
    '--worker-allow-keys <path>',
    'CURVE with --worker-bind: public keys allowed as workers (SIGHUP re-reads it); --allow-keys is then for clients',
  )
  .option(
    '--heartbeat-ms <ms>',
    "MDP heartbeat interval to workers; must match the workers (the pair's is --ha-heartbeat-ms)",
    intFlag(1, 3_600_000),
    brokerDefaults.heartbeatIntervalMs,
  )
  .option(
    '--liveness <n>',
    'silent heartbeat intervals before a worker is dead',
    intFlag(1, 1000),
    brokerDefaults.liveness,
  )
  .option(
    '--request-ttl-ms <ms>',
    'drop a request that waited this long for a worker',
    intFlag(1, 86_400_000),
    brokerDefaults.requestTtlMs,
  )
  .option(
    '--max-queued-bytes <bytes>',
    'bytes of queued requests, all services, at most (new requests refused past it)',
    intFlag(1, Number.MAX_SAFE_INTEGER),
    brokerDefaults.maxQueuedBytes,
  )
  .option(
    '--max-queued-bytes-per-client <bytes>',
    'bytes of queued requests one client may hold (its new requests refused past it; others still queued)',
    intFlag(1, Number.MAX_SAFE_INTEGER),
    brokerDefaults.maxQueuedBytesPerClient,
  )
  .option(
    '--idempotent <service>',
    'requeue in-flight requests of this service when its worker dies (repeatable)',
    collect(serviceName),
  )
  .option(
    '--stats-interval-ms <ms>',
    'log a stats line this often (0: only once, at shutdown)',
    intFlag(0, 86_400_000),
    60_000,
  )
  .addOption(
    new Option(
      '--ha <role>',
      'run as one broker of a Binary Star pair (needs --state-bind and --state-connect)',
    ).choices(['primary', 'backup']),
  )
  .option('--state-bind <endpoint>', 'with --ha: bind for our Binary Star state PUB', bindEndpointFlag)
  .option('--state-connect <endpoint>', "with --ha: the peer broker's state PUB", connectEndpointFlag)
  .option(
    '--ha-heartbeat-ms <ms>',
    'with --ha: state published this often, the peer is dead after 2; same on both',
    intFlag(1, 3_600_000),
    BSTAR_HEARTBEAT_MS,
  );
addDaemonOptions(program, { services: true });
envOptions(program, 'ZPAT_MDBROKER');

program.parse(process.argv);
const flags = program.opts<Flags>();
if (flags.ha !== undefined && (flags.stateBind === undefined || flags.stateConnect === undefined)) {
  program.error('error: --ha needs --state-bind and --state-connect');
}
if (flags.ha === undefined && (flags.stateBind !== undefined || flags.stateConnect !== undefined)) {
  program.error('error: --state-bind and --state-connect need --ha primary|backup');
}
if (flags.workerAllowKeys !== undefined && flags.workerBind === undefined) {
  program.error('error: --worker-allow-keys needs --worker-bind');
}
if (flags.workerBind !== undefined && flags.allowKeys !== undefined && flags.workerAllowKeys === undefined) {
  program.error('error: --worker-bind with --allow-keys needs --worker-allow-keys (who may be a worker)');
}
const secured = serverSecurityFromFlags('mdbroker', flags);
const workerSecured =
  flags.workerAllowKeys === undefined
    ? undefined
    : serverSecurityFromFlags('mdbroker', { ...flags, allowKeys: flags.workerAllowKeys });
const logger = createRootLogger({ name: 'mdbroker', level: flags.logLevel, pretty: flags.pretty });
logDeprecations(logger);
watchServerSecurity(secured, logger);
if (workerSecured !== undefined) watchServerSecurity(workerSecured, logger.child({ role: 'workers' }));

process.exitCode = await runDaemon({
  logger,
  start: async () => {
    // A taken metrics port stops the start before anything binds (or logs).
    await checkMetricsPort(flags);
    // The registry (and prom-client's default collectors: a GC observer and an event-loop delay
    // timer) exists only when metrics are served: without --metrics-port nothing is collected.
    const registry = flags.metricsPort === undefined ? undefined : createRegistry();
    const label = boundedLabels(flags.metricsServices ?? 100);
    const perService =
      registry === undefined
        ? undefined
        : new ServiceMetrics({
            registry,
            label,
            requestsName: 'zpatterns_broker_service_requests_total',
            requestsHelp: 'client requests per service (first --metrics-services services, the rest "_other")',
            latencyName: 'zpatterns_broker_request_duration_seconds',
            latencyHelp: 'arrival of a request at the broker to its final reply, per service',
            buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
          });
    const star =
      flags.ha === undefined
        ? undefined
        : new BinaryStar({
            role: flags.ha,
            stateBind: flags.stateBind ?? '',
            stateConnect: flags.stateConnect ?? '',
            heartbeatIntervalMs: flags.haHeartbeatMs,
            maxMessageBytes: flags.maxMessageBytes,
            logger,
            ...pairCurve(secured),
          });
    const broker = new Broker({
      bind: flags.bind ?? [DEFAULT_BROKER_ENDPOINT],
      workerBind: flags.workerBind,
      workerSecurity: workerSecured?.security,
      ...(star === undefined ? {} : { clientVoter: star }),
      logger,
      heartbeatIntervalMs: flags.heartbeatMs,
      liveness: flags.liveness,
      requestTtlMs: flags.requestTtlMs,
      maxQueuedBytes: flags.maxQueuedBytes,
      maxQueuedBytesPerClient: flags.maxQueuedBytesPerClient,
      maxMessageBytes: flags.maxMessageBytes,
      idempotentServices: flags.idempotent ?? [],
      statsIntervalMs: flags.statsIntervalMs,
      security: secured.security,
    });
    if (perService !== undefined) observeBroker(broker, perService.observer);
    try {
      // The pair's state first: a client request must never be voted on before the peer had its chance.
      await star?.start();
      await broker.start();
    } catch (err) {
      await Promise.all([broker.close(), star?.close()]);
      throw err;
    }
    const metrics = await serveMetrics(flags, {
      logger,
      ...(registry === undefined ? {} : { registry }),
      register: (r) => {
        statsCounters(r, 'broker', () => broker.stats);
        gaugesOf(r, 'broker', () => ({ ...broker.gauges() }));
        serviceGauges(r, broker, label);
        if (star !== undefined) pairMetrics(r, star);
      },
      healthy: () => broker.running,
      cleanup: () => Promise.all([broker.close(), star?.close()]),
      status: statusSource('mdbroker', brokerStatus(broker, star)),
    });
    warnPlainBinds(
      secured,
      [...broker.endpoints.clients, ...broker.endpoints.workers, ...(star === undefined ? [] : [star.endpoints.state])],
      logger,
    );
    return {
      handle: {
        close: async () => {
          await Promise.all([broker.close(), star?.close()]);
        },
      },
      metrics,
      shutdownDelayMs: flags.shutdownDelayMs,
      stats: () => ({ ...broker.stats }),
      ready: {
        endpoints: broker.endpoints.clients,
        ...(broker.endpoints.workers.length === 0 ? {} : { workerEndpoints: broker.endpoints.workers }),
        heartbeatMs: flags.heartbeatMs,
        liveness: flags.liveness,
        requestTtlMs: flags.requestTtlMs,
        idempotent: flags.idempotent ?? [],
        ...(star === undefined
          ? {}
          : { ha: flags.ha, stateBind: star.endpoints.state, stateConnect: flags.stateConnect }),
        curve: secured.security !== undefined,
      },
    };
  },
});
