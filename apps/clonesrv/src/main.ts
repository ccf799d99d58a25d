#!/usr/bin/env node
/**
 * clonesrv: the Clone (12/CHP) key-value server, alone or as one of a Binary Star pair (the book's
 * clonesrv6). Snapshot ROUTER on port P, update PUB on P+1, collector SUB on P+2, on the loopback
 * unless --host says otherwise.
 *
 *   node_modules/.bin/clonesrv --data-dir /var/lib/clonesrv   # P 5590
 *   node_modules/.bin/clonesrv --ha primary     # P 5590, peer 5593, Binary Star 5596 -> 5597
 *   node_modules/.bin/clonesrv --ha backup      # P 5593, peer 5590, Binary Star 5597 -> 5596
 *
 * Every flag can also come from ZPAT_CLONESRV_<FLAG> (ZPAT_CLONESRV_DATA_DIR); the command line
 * wins. Every link to the peer can be pointed elsewhere (a proxy in front of each, for instance):
 * --peer-snapshot, --peer-publisher, --peer-collector, --peer-hugz, --state-connect. Old names, kept for one release: --primary/--backup (--ha), --bstar-local/--bstar-remote
 * (--state-bind/--state-connect), --heartbeat-ms (--ha-heartbeat-ms).
 */
import { Option } from 'commander';
import {
  addDaemonOptions,
  addFlagAliases,
  bindEndpointFlag,
  checkMetricsPort,
  connectEndpointFlag,
  createProgram,
  createRootLogger,
  envOptions,
  gaugesOf,
  hostFlag,
  intFlag,
  logDeprecations,
  portFlag,
  prepareDataDir,
  pairMetrics,
  runDaemon,
  serveMetrics,
  serverSecurityFromFlags,
  StartupError,
  statsCounters,
  statusSource,
  warnPlainBinds,
  watchServerSecurity,
  type LogLevel,
  type MetricsFlags,
  type ServerSecurityFlags,
} from '@zpatterns/app-kit';
import { BSTAR_HEARTBEAT_MS, type BStarRole } from '@zpatterns/bstar';
import { CloneServer, cloneServerDefaults, portEndpoints, serverAddress } from '@zpatterns/clone';
import { cloneStatus } from './status.js';

interface Flags extends ServerSecurityFlags, MetricsFlags {
  ha?: BStarRole;
  port?: number;
  host: string;
  peerPort?: number;
  peerHost: string;
  peerSnapshot?: string;
  peerPublisher?: string;
  peerCollector?: string;
  peerHugz?: string;
  stateBind?: string;
  stateConnect?: string;
  haHeartbeatMs: number;
  dataDir?: string;
  fsync: boolean;
  hugzMs: number;
  peerTtlMs: number;
  maxPending: number;
  logLevel: LogLevel;
  pretty: boolean;
}

/** Base port of a server alone, and of a pair's primary (the port map in docs/operations.md). */
const DEFAULT_PORT = 5590;

/** A pair on loopback (the book's clonesrv6 uses 5556/5566 and 5003/5004 instead). */
const PAIR: Record<BStarRole, { port: number; peerPort: number; stateBind: string; stateConnect: string }> = {
  primary: { port: 5590, peerPort: 5593, stateBind: 'tcp://127.0.0.1:5596', stateConnect: 'tcp://127.0.0.1:5597' },
  backup: { port: 5593, peerPort: 5590, stateBind: 'tcp://127.0.0.1:5597', stateConnect: 'tcp://127.0.0.1:5596' },
};

const program = createProgram(
  'clonesrv',
  'Clone (12/CHP) key-value server: snapshot ROUTER P, update PUB P+1, collector SUB P+2; alone or as a Binary Star pair',
)
  .option(
    '--port <port>',
    'base port P (binds P, P+1, P+2, so at most 65533) (default: 5590, or 5593 with --ha backup)',
    portFlag(3),
  )
  .option('--host <address>', 'address to bind on (* for every interface)', hostFlag('bind'), '127.0.0.1')
  .addOption(
    new Option('--ha <role>', 'run as the primary or the backup of a Binary Star pair').choices(['primary', 'backup']),
  )
  .option('--peer-port <port>', "with --ha: the peer's base port (default: 5593 primary, 5590 backup)", portFlag(3))
  .option('--peer-host <address>', "with --ha: the peer's address", hostFlag('connect'), '127.0.0.1')
  .option(
    '--peer-snapshot <endpoint>',
    "with --ha: the peer's snapshot ROUTER, followed when passive (default: --peer-host, port Q)",
    connectEndpointFlag,
  )
  .option(
    '--peer-publisher <endpoint>',
    "with --ha: the peer's update PUB, followed when passive (default: --peer-host, port Q+1)",
    connectEndpointFlag,
  )
  .option(
    '--peer-collector <endpoint>',
    "with --ha: the peer's collector, where a split brain's loser hands its updates (default: --peer-host, port Q+2)",
    connectEndpointFlag,
  )
  .option(
    '--peer-hugz <endpoint>',
    "with --ha: where to hear the peer's HUGZ, logged beside a split brain's outcome (default: --peer-publisher)",
    connectEndpointFlag,
  )
  .option(
    '--state-bind <endpoint>',
    'with --ha: bind for our Binary Star state PUB (default: "tcp://127.0.0.1:5596" primary, ":5597" backup)',
    bindEndpointFlag,
  )
  .option(
    '--state-connect <endpoint>',
    'with --ha: the peer\'s Binary Star state PUB (default: "tcp://127.0.0.1:5597" primary, ":5596" backup)',
    connectEndpointFlag,
  )
  .option(
    '--ha-heartbeat-ms <ms>',
    'Binary Star state published this often; the peer is dead after 2; must match the peer',
    intFlag(1, 3_600_000),
    BSTAR_HEARTBEAT_MS,
  )
  .option('--data-dir <dir>', 'keep the map and its sequence in SQLite here (default: memory only)')
  .option('--fsync', 'fsync every commit (slower; survives power loss, not just a crash)', false)
  .option('--hugz-ms <ms>', 'HUGZ heartbeat interval', intFlag(10, 3_600_000), cloneServerDefaults.heartbeatIntervalMs)
  .option(
    '--peer-ttl-ms <ms>',
    'pair: a passive server resyncs after the active is silent this long',
    intFlag(10, 3_600_000),
    cloneServerDefaults.peerTtlMs,
  )
  .option(
    '--max-pending <n>',
    'pair: client updates a passive server holds for the active; more are refused',
    intFlag(1, 100_000_000),
    cloneServerDefaults.maxPending,
  );
addDaemonOptions(program);
envOptions(program, 'ZPAT_CLONESRV');
addFlagAliases(program, [
  { flags: '--primary', replacement: '--ha', value: 'primary' },
  { flags: '--backup', replacement: '--ha', value: 'backup' },
  { flags: '--bstar-local <endpoint>', replacement: '--state-bind' },
  { flags: '--bstar-remote <endpoint>', replacement: '--state-connect' },
  { flags: '--heartbeat-ms <ms>', replacement: '--ha-heartbeat-ms' },
]);

program.parse(process.argv);
const flags = program.opts<Flags>();
const secured = serverSecurityFromFlags('clonesrv', flags);
const role: BStarRole | undefined = flags.ha;
if (role === undefined) {
  for (const [flag, value] of [
    ['--peer-port', flags.peerPort],
    ['--peer-snapshot', flags.peerSnapshot],
    ['--peer-publisher', flags.peerPublisher],
    ['--peer-collector', flags.peerCollector],
    ['--peer-hugz', flags.peerHugz],
    ['--state-bind', flags.stateBind],
    ['--state-connect', flags.stateConnect],
  ] as const) {
    if (value !== undefined) program.error(`error: ${flag} needs --ha primary|backup`);
  }
}
const port = flags.port ?? (role === undefined ? DEFAULT_PORT : PAIR[role].port);

/**
 * The peer's endpoints: `tcp://HOST:Q` for the book's layout, or each named on its own (a proxy
 * in front of each link, a different layout), the rest derived from Q.
 */
function peerEndpoints(
  side: BStarRole,
): string | { snapshot: string; publisher: string; collector: string; hugz?: string } {
  const base = `tcp://${flags.peerHost}:${flags.peerPort ?? PAIR[side].peerPort}`;
  const { peerSnapshot, peerPublisher, peerCollector, peerHugz } = flags;
  if ([peerSnapshot, peerPublisher, peerCollector, peerHugz].every((e) => e === undefined)) return base;
  const derived = serverAddress(base);
  return {
    snapshot: peerSnapshot ?? derived.snapshot,
    publisher: peerPublisher ?? derived.publisher,
    collector: peerCollector ?? derived.collector,
    ...(peerHugz === undefined ? {} : { hugz: peerHugz }),
  };
}
const logger = createRootLogger({ name: 'clonesrv', level: flags.logLevel, pretty: flags.pretty });
logDeprecations(logger);
watchServerSecurity(secured, logger);

/** SQLite's own errors about the journal, said as what they mean for the data directory. */
function journalFailure(err: unknown): unknown {
  const code = (err as { code?: unknown }).code;
  if (flags.dataDir === undefined || typeof code !== 'string' || !code.startsWith('SQLITE_')) return err;
  const why = code === 'SQLITE_BUSY' ? 'its journal is locked by another clonesrv' : (err as Error).message;
  return new StartupError('ERR_DATA_DIR', `cannot use data directory ${flags.dataDir}: ${why}`, { cause: err });
}

process.exitCode = await runDaemon({
  logger,
  start: async () => {
    const pair =
      role === undefined
        ? undefined
        : {
            role,
            stateBind: flags.stateBind ?? PAIR[role].stateBind,
            stateConnect: flags.stateConnect ?? PAIR[role].stateConnect,
            peer: peerEndpoints(role),
            heartbeatIntervalMs: flags.haHeartbeatMs,
          };
    const server = new CloneServer({
      ...portEndpoints(port, flags.host),
      heartbeatIntervalMs: flags.hugzMs,
      peerTtlMs: flags.peerTtlMs,
      maxPending: flags.maxPending,
      pair,
      dataDir: flags.dataDir,
      fsync: flags.fsync,
      security: secured.security,
      maxMessageBytes: flags.maxMessageBytes,
      logger,
    });
    let closing = false;
    // A data directory or a metrics port that cannot be used stops the start before anything binds.
    if (flags.dataDir !== undefined) prepareDataDir(flags.dataDir);
    await checkMetricsPort(flags);
    // A failed start has closed the server already.
    await server.start().catch((err: unknown) => {
      throw journalFailure(err);
    });
    const metrics = await serveMetrics(flags, {
      logger,
      register: (registry) => {
        statsCounters(registry, 'clone', () => server.stats);
        gaugesOf(registry, 'clone', () => ({
          active: server.role === 'active' ? 1 : 0,
          keys: server.size,
          sequence: Number(server.sequence),
          pending: server.pendingCount,
          healthy: server.health.ok ? 1 : 0,
        }));
        if (server.binaryStar !== undefined) pairMetrics(registry, server.binaryStar);
      },
      healthy: () => !closing && server.health.ok,
      cleanup: () => server.close(),
      status: statusSource('clonesrv', cloneStatus(server)),
    });
    const { snapshot, publisher, collector } = server.endpoints;
    warnPlainBinds(secured, [snapshot, publisher, collector], logger);
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
        endpoints: [snapshot, publisher, collector],
        snapshot,
        publisher,
        collector,
        ...(pair === undefined
          ? {}
          : { pair: pair.role, peer: pair.peer, stateBind: server.binaryStar?.endpoints.state ?? pair.stateBind }),
        sequence: Number(server.sequence),
        keys: server.size,
        ...(flags.dataDir === undefined ? {} : { dataDir: flags.dataDir }),
        curve: secured.security !== undefined,
      },
    };
  },
});
