#!/usr/bin/env node
/**
 * bstarsrv: one server of a Binary Star pair, with the book's echo service (bstarsrv2) as the
 * work: a ROUTER frontend that answers each client request with the request's own frames, served
 * only while this server is active.
 *
 *   npx --no-install bstarsrv --primary   # frontend 5001, state 5003 -> 5004
 *   npx --no-install bstarsrv --backup    # frontend 5002, state 5004 -> 5003
 */
import { Option } from 'commander';
import * as zmq from 'zeromq';
import {
  createProgram,
  createRootLogger,
  endpointFlag,
  intFlag,
  logLevelOption,
  prettyOption,
  runDaemon,
  gaugesOf,
  metricsOptions,
  serverSecurityFromFlags,
  serveMetrics,
  statsCounters,
  serverSecurityOptions,
  pairCurve,
  warnPlainBinds,
  watchServerSecurity,
  type LogLevel,
  type MetricsFlags,
  type MetricsServer,
  type ServerSecurityFlags,
} from '@zpatterns/app-kit';
import { BinaryStar, BSTAR_HEARTBEAT_MS, type BStarRole } from '@zpatterns/bstar';
import { applyBindSecurity, Channel } from '@zpatterns/core';

interface Flags extends ServerSecurityFlags, MetricsFlags {
  primary?: boolean;
  backup?: boolean;
  frontend?: string;
  stateBind?: string;
  stateConnect?: string;
  heartbeatMs: number;
  logLevel: LogLevel;
  pretty: boolean;
}

/** The book's ports (bstarsrv2), on loopback. */
const DEFAULTS: Record<BStarRole, { frontend: string; stateBind: string; stateConnect: string }> = {
  primary: {
    frontend: 'tcp://127.0.0.1:5001',
    stateBind: 'tcp://127.0.0.1:5003',
    stateConnect: 'tcp://127.0.0.1:5004',
  },
  backup: { frontend: 'tcp://127.0.0.1:5002', stateBind: 'tcp://127.0.0.1:5004', stateConnect: 'tcp://127.0.0.1:5003' },
};

const program = createProgram('bstarsrv', 'Binary Star echo server: one of a primary/backup high-availability pair')
  .addOption(new Option('--primary', 'run as the primary (starts active)').conflicts('backup'))
  .addOption(new Option('--backup', 'run as the backup (starts passive)').conflicts('primary'))
  .option(
    '--frontend <endpoint>',
    'bind for clients (ROUTER) (default: tcp://127.0.0.1:5001 primary, :5002 backup)',
    endpointFlag,
  )
  .option(
    '--state-bind <endpoint>',
    'bind for our state PUB (default: tcp://127.0.0.1:5003 primary, :5004 backup)',
    endpointFlag,
  )
  .option(
    '--state-connect <endpoint>',
    "the peer's state PUB (default: tcp://127.0.0.1:5004 primary, :5003 backup)",
    endpointFlag,
  )
  .option(
    '--heartbeat-ms <ms>',
    'state published this often; the peer is dead after 2 of these; must match the peer',
    intFlag(1, 3_600_000),
    BSTAR_HEARTBEAT_MS,
  )
  .addOption(logLevelOption())
  .addOption(prettyOption());

serverSecurityOptions(program);
for (const option of metricsOptions()) program.addOption(option);

program.parse(process.argv);
const flags = program.opts<Flags>();
const secured = serverSecurityFromFlags('bstarsrv', flags);
if (flags.primary !== true && flags.backup !== true) program.error('error: one of --primary or --backup is required');
const role: BStarRole = flags.primary === true ? 'primary' : 'backup';
const logger = createRootLogger({ name: 'bstarsrv', level: flags.logLevel, pretty: flags.pretty });
watchServerSecurity(secured, logger);

process.exitCode = await runDaemon({
  logger,
  start: async () => {
    const star = new BinaryStar({
      role,
      stateBind: flags.stateBind ?? DEFAULTS[role].stateBind,
      stateConnect: flags.stateConnect ?? DEFAULTS[role].stateConnect,
      heartbeatMs: flags.heartbeatMs,
      logger,
      ...pairCurve(secured),
    });
    const router = new zmq.Router({ linger: 0 });
    // CURVE (when configured) on the clients' side and on the state link between the pair.
    const guard = applyBindSecurity(router, secured.security, logger);
    const frontend = new Channel(router, { name: 'frontend', logger });
    let metrics: MetricsServer | undefined;
    const close = async (): Promise<void> => {
      logger.info({ stats: star.stats }, 'final stats');
      await Promise.all([frontend.close(), star.close()]);
      await guard?.release();
    };
    try {
      await guard?.ready();
      await frontend.socket.bind(flags.frontend ?? DEFAULTS[role].frontend);
      await star.start();
      metrics = await serveMetrics(flags, {
        logger,
        register: (registry) => {
          statsCounters(registry, 'bstar', () => star.stats);
          gaugesOf(registry, 'bstar', () => ({ active: star.isActive ? 1 : 0 }));
        },
        healthy: () => !frontend.isClosed,
      });
    } catch (err) {
      await close();
      throw err;
    }
    // The work: echo each request whose vote this server wins. A ROUTER message is
    // [identity][""][body...] from REQ, and that is exactly the reply too.
    void star.serve(frontend, (message) => {
      frontend.post(message);
    });
    const frontendEndpoint = frontend.socket.lastEndpoint ?? '';
    warnPlainBinds(secured, [frontendEndpoint, star.stateEndpoint], logger);
    return {
      handle: { close },
      metrics,
      ready: {
        role,
        endpoints: [frontendEndpoint, star.stateEndpoint],
        frontend: frontendEndpoint,
        stateBind: star.stateEndpoint,
        stateConnect: flags.stateConnect ?? DEFAULTS[role].stateConnect,
        heartbeatMs: flags.heartbeatMs,
        curve: secured.security !== undefined,
      },
    };
  },
});
