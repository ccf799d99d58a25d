#!/usr/bin/env node
/**
 * flserver: a Freelance (10/FLP) echo server as a daemon. Answers PING with PONG and every request
 * `[control][body...]` with `[control][body...]`; the book's flclient3 works against it.
 *
 *   node_modules/.bin/flserver --bind tcp://localhost:5570
 *
 * Every flag can also come from ZPAT_FLSERVER_<FLAG> (ZPAT_FLSERVER_BIND); the command line wins.
 */
import {
  createProgram,
  createRootLogger,
  endpointFlag,
  envOptions,
  intFlag,
  logDeprecations,
  logLevelOption,
  prettyOption,
  runDaemon,
  metricsOptions,
  serverSecurityFromFlags,
  serveMetrics,
  statsCounters,
  statusSource,
  serverSecurityOptions,
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
    endpointFlag,
    'tcp://localhost:5570',
  )
  .option(
    '--endpoint <endpoint>',
    "public endpoint clients connect to, used as the server's routing id (default: the bound endpoint, * written localhost)",
    endpointFlag,
  )
  .option('--work-ms <ms>', 'simulated work per request', intFlag(0, 3_600_000), 0)
  .option(
    '--max-concurrent <n>',
    'requests handled at once',
    intFlag(1, 10_000_000),
    freelanceServerDefaults.maxConcurrent,
  )
  .addOption(logLevelOption())
  .addOption(prettyOption());

serverSecurityOptions(program);
for (const option of metricsOptions()) program.addOption(option);
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
    warnPlainBinds(secured, [server.bound], logger);
    return {
      handle: {
        close: async () => {
          closing = true;
          logger.info({ stats: server.stats }, 'final stats');
          await server.close();
        },
      },
      metrics,
      ready: {
        endpoints: [server.endpoint],
        endpoint: server.endpoint,
        bound: server.bound,
        curve: secured.security !== undefined,
      },
    };
  },
});
