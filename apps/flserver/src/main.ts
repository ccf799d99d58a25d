#!/usr/bin/env node
/**
 * flserver: a Freelance (10/FLP) echo server as a daemon. Answers PING with PONG and every request
 * `[control][body...]` with `[control][body...]`; the book's flclient3 works against it.
 *
 *   node_modules/.bin/flserver --bind tcp://127.0.0.1:5570
 *
 * Clients address a Freelance server by its routing id, which is the endpoint string itself:
 * `tcp://127.0.0.1:5570` and `tcp://localhost:5570` reach the same port but are different names,
 * and a request sent to the wrong name is dropped by the client's own socket (the server never
 * sees it). The ready line's `endpoint` is the name to use.
 *
 * Every flag can also come from ZPAT_FLSERVER_<FLAG> (ZPAT_FLSERVER_BIND); the command line wins.
 */
import {
  addDaemonOptions,
  bindEndpointFlag,
  checkMetricsPort,
  connectEndpointFlag,
  createProgram,
  createRootLogger,
  envOptions,
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
import { FreelanceServer, freelanceServerDefaults } from '@zpatterns/freelance';
import { freelanceStatus } from './status.js';

interface Flags extends ServerSecurityFlags, MetricsFlags {
  bind: string;
  endpoint?: string;
  workMs: number;
  maxConcurrent: number;
  logLevel: LogLevel;
  pretty: boolean;
}

const program = createProgram('flserver', 'Freelance (10/FLP) echo server: replies [control, body...]')
  .option(
    '--bind <endpoint>',
    'endpoint to bind; tcp://host:* picks a free port first (the routing id must be known before bind)',
    bindEndpointFlag,
    'tcp://127.0.0.1:5570',
  )
  .option(
    '--endpoint <endpoint>',
    "public endpoint clients connect to, used as the server's routing id: clients must use exactly this string (default: the bound endpoint, * written localhost)",
    connectEndpointFlag,
  )
  .option('--work-ms <ms>', 'simulated work per request', intFlag(0, 3_600_000), 0)
  .option(
    '--max-concurrent <n>',
    'requests handled at once',
    intFlag(1, 10_000_000),
    freelanceServerDefaults.maxConcurrent,
  );
addDaemonOptions(program);
envOptions(program, 'ZPAT_FLSERVER');

program.parse(process.argv);
const flags = program.opts<Flags>();
const secured = serverSecurityFromFlags('flserver', flags);
const logger = createRootLogger({ name: 'flserver', level: flags.logLevel, pretty: flags.pretty });
logDeprecations(logger);
watchServerSecurity(secured, logger);
const workMs = flags.workMs;

process.exitCode = await runDaemon({
  logger,
  start: async () => {
    // A taken metrics port stops the start before anything binds (or logs).
    await checkMetricsPort(flags);
    const server = await FreelanceServer.start({
      bind: flags.bind,
      ...(flags.endpoint === undefined ? {} : { endpoint: flags.endpoint }),
      maxConcurrent: flags.maxConcurrent,
      maxMessageBytes: flags.maxMessageBytes,
      ...(workMs > 0
        ? { handler: async (body: Buffer[]) => new Promise<Buffer[]>((r) => setTimeout(() => r(body), workMs)) }
        : {}),
      security: secured.security,
      logger,
    });
    let closing = false;
    const metrics = await serveMetrics(flags, {
      logger,
      register: (registry) => statsCounters(registry, 'freelance_server', () => server.stats),
      healthy: () => !closing,
      cleanup: () => server.close(),
      status: statusSource('flserver', freelanceStatus(server, flags.maxConcurrent)),
    });
    warnPlainBinds(secured, [server.endpoints.bound], logger);
    return {
      handle: {
        close: async () => {
          closing = true;
          await server.close();
        },
      },
      metrics,
      shutdownDelayMs: flags.shutdownDelayMs,
      stats: () => server.stats,
      ready: {
        // What is bound, as for every daemon; `endpoint` is the name clients must use (the routing id).
        endpoints: [server.endpoints.bound],
        endpoint: server.endpoints.clients,
        curve: secured.security !== undefined,
      },
    };
  },
});
