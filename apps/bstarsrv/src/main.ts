#!/usr/bin/env node
/**
 * bstarsrv: one server of a Binary Star pair, with the book's echo service (bstarsrv2) as the
 * work: a ROUTER frontend that answers each client request with the request's own frames, served
 * only while this server is active.
 *
 *   node_modules/.bin/bstarsrv --ha primary   # frontend 5580, state 5582 -> 5583
 *   node_modules/.bin/bstarsrv --ha backup    # frontend 5581, state 5583 -> 5582
 *
 * Every flag can also come from ZPAT_BSTARSRV_<FLAG> (ZPAT_BSTARSRV_HA=primary); the command line
 * wins. `--primary`, `--backup` and `--heartbeat-ms` are the old names of `--ha primary`,
 * `--ha backup` and `--ha-heartbeat-ms`.
 */
import { Option } from 'commander';
import * as zmq from 'zeromq';
import {
  addDaemonOptions,
  addFlagAliases,
  bindEndpointFlag,
  checkMetricsPort,
  connectEndpointFlag,
  createProgram,
  createRootLogger,
  envOptions,
  exitUsage,
  intFlag,
  logDeprecations,
  runDaemon,
  serverSecurityFromFlags,
  serveMetrics,
  pairMetrics,
  statusSource,
  pairCurve,
  warnPlainBinds,
  watchServerSecurity,
  type LogLevel,
  type MetricsFlags,
  type MetricsServer,
  type ServerSecurityFlags,
} from '@zpatterns/app-kit';
import { BinaryStar, BSTAR_HEARTBEAT_MS, type BStarRole } from '@zpatterns/bstar';
import { applyBindSecurity, Channel } from '@zpatterns/core/internal';
import { pairStatus } from './status.js';

interface Flags extends ServerSecurityFlags, MetricsFlags {
  ha?: BStarRole;
  frontend?: string;
  stateBind?: string;
  stateConnect?: string;
  haHeartbeatMs: number;
  logLevel: LogLevel;
  pretty: boolean;
}

/** The pair's ports in the port map (docs/operations.md), on loopback; the book's are 5001-5004. */
const DEFAULTS: Record<BStarRole, { frontend: string; stateBind: string; stateConnect: string }> = {
  primary: {
    frontend: 'tcp://127.0.0.1:5580',
    stateBind: 'tcp://127.0.0.1:5582',
    stateConnect: 'tcp://127.0.0.1:5583',
  },
  backup: { frontend: 'tcp://127.0.0.1:5581', stateBind: 'tcp://127.0.0.1:5583', stateConnect: 'tcp://127.0.0.1:5582' },
};

const program = createProgram('bstarsrv', 'Binary Star echo server: one of a primary/backup high-availability pair')
  .addOption(
    new Option(
      '--ha <role>',
      "required: this server's role in the pair, primary (starts active) or backup (starts passive)",
    ).choices(['primary', 'backup']),
  )
  .option(
    '--frontend <endpoint>',
    'bind for clients (ROUTER) (default: "tcp://127.0.0.1:5580" primary, ":5581" backup)',
    bindEndpointFlag,
  )
  .option(
    '--state-bind <endpoint>',
    'bind for our Binary Star state PUB (default: "tcp://127.0.0.1:5582" primary, ":5583" backup)',
    bindEndpointFlag,
  )
  .option(
    '--state-connect <endpoint>',
    'the peer\'s Binary Star state PUB (default: "tcp://127.0.0.1:5583" primary, ":5582" backup)',
    connectEndpointFlag,
  )
  .option(
    '--ha-heartbeat-ms <ms>',
    'state published this often; the peer is dead after 2 of these; must match the peer',
    intFlag(1, 3_600_000),
    BSTAR_HEARTBEAT_MS,
  );
addDaemonOptions(program);
envOptions(program, 'ZPAT_BSTARSRV');
addFlagAliases(program, [
  { flags: '--primary', replacement: '--ha', value: 'primary' },
  { flags: '--backup', replacement: '--ha', value: 'backup' },
  { flags: '--heartbeat-ms <ms>', replacement: '--ha-heartbeat-ms' },
]);

program.parse(process.argv);
const flags = program.opts<Flags>();
const role: BStarRole = flags.ha ?? exitUsage('bstarsrv', '--ha is required (primary or backup)');
const secured = serverSecurityFromFlags('bstarsrv', flags);
const logger = createRootLogger({ name: 'bstarsrv', level: flags.logLevel, pretty: flags.pretty });
logDeprecations(logger);
watchServerSecurity(secured, logger);

process.exitCode = await runDaemon({
  logger,
  start: async () => {
    // A taken metrics port stops the start before anything binds (or logs).
    await checkMetricsPort(flags);
    const star = new BinaryStar({
      role,
      stateBind: flags.stateBind ?? DEFAULTS[role].stateBind,
      stateConnect: flags.stateConnect ?? DEFAULTS[role].stateConnect,
      heartbeatIntervalMs: flags.haHeartbeatMs,
      maxMessageBytes: flags.maxMessageBytes,
      logger,
      ...pairCurve(secured),
    });
    const router = new zmq.Router({ linger: 0 });
    // CURVE (when configured) on the clients' side and on the state link between the pair.
    const guard = applyBindSecurity(router, secured.security, logger, flags.maxMessageBytes);
    const frontend = new Channel(router, { name: 'frontend', logger });
    let metrics: MetricsServer | undefined;
    const close = async (): Promise<void> => {
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
          pairMetrics(registry, star);
        },
        healthy: () => !frontend.isClosed,
        status: statusSource('bstarsrv', pairStatus(star, frontend.socket.lastEndpoint ?? '')),
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
    const stateEndpoint = star.endpoints.state;
    warnPlainBinds(secured, [frontendEndpoint, stateEndpoint], logger);
    return {
      handle: { close },
      metrics,
      shutdownDelayMs: flags.shutdownDelayMs,
      stats: () => star.stats,
      ready: {
        role,
        endpoints: [frontendEndpoint, stateEndpoint],
        frontend: frontendEndpoint,
        stateBind: stateEndpoint,
        stateConnect: flags.stateConnect ?? DEFAULTS[role].stateConnect,
        heartbeatMs: flags.haHeartbeatMs,
        curve: secured.security !== undefined,
      },
    };
  },
});
