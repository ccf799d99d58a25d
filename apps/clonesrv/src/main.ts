#!/usr/bin/env node
/**
 * clonesrv: the Clone (12/CHP) key-value server, alone or as one of a Binary Star pair (the book's
 * clonesrv6). Snapshot ROUTER on port P, update PUB on P+1, collector SUB on P+2, on the loopback
 * unless --host says otherwise.
 *
 *   npx --no-install clonesrv --port 5556 --data-dir ./clone-data
 *   npx --no-install clonesrv --primary     # P 5556, peer 5566, Binary Star 5003 -> 5004
 *   npx --no-install clonesrv --backup      # P 5566, peer 5556, Binary Star 5004 -> 5003
 */
import { Option } from 'commander';
import {
  createProgram,
  createRootLogger,
  endpointFlag,
  gaugesOf,
  intFlag,
  logLevelOption,
  metricsOptions,
  prettyOption,
  runDaemon,
  serveMetrics,
  serverSecurityFromFlags,
  serverSecurityOptions,
  statsCounters,
  warnPlainBinds,
  watchServerSecurity,
  type LogLevel,
  type MetricsFlags,
  type ServerSecurityFlags,
} from '@zpatterns/app-kit';
import { BSTAR_HEARTBEAT_MS, type BStarRole } from '@zpatterns/bstar';
import { CloneServer, cloneServerDefaults, portEndpoints } from '@zpatterns/clone';

interface Flags extends ServerSecurityFlags, MetricsFlags {
  primary?: boolean;
  backup?: boolean;
  port?: number;
  host: string;
  peerPort?: number;
  peerHost: string;
  bstarLocal?: string;
  bstarRemote?: string;
  heartbeatMs: number;
  dataDir?: string;
  fsync: boolean;
  hugzMs: number;
  peerTtlMs: number;
  maxPending: number;
  logLevel: LogLevel;
  pretty: boolean;
}

/** The book's clonesrv6 layout, on loopback. */
const PAIR: Record<BStarRole, { port: number; peerPort: number; bstarLocal: string; bstarRemote: string }> = {
  primary: { port: 5556, peerPort: 5566, bstarLocal: 'tcp://127.0.0.1:5003', bstarRemote: 'tcp://127.0.0.1:5004' },
  backup: { port: 5566, peerPort: 5556, bstarLocal: 'tcp://127.0.0.1:5004', bstarRemote: 'tcp://127.0.0.1:5003' },
};

const program = createProgram(
  'clonesrv',
  'Clone (12/CHP) key-value server: snapshot ROUTER P, update PUB P+1, collector SUB P+2; alone or as a Binary Star pair',
)
  .option('--port <port>', 'base port P (binds P, P+1, P+2) (default: 5556, or 5566 with --backup)', intFlag(1, 65_533))
  .option('--host <address>', 'address to bind on', '127.0.0.1')
  .addOption(new Option('--primary', 'run as the primary of a pair').conflicts('backup'))
  .addOption(new Option('--backup', 'run as the backup of a pair').conflicts('primary'))
  .option('--peer-port <port>', "the peer's base port (default: 5566 primary, 5556 backup)", intFlag(1, 65_533))
  .option('--peer-host <address>', "the peer's address", '127.0.0.1')
  .option(
    '--bstar-local <endpoint>',
    'bind for our Binary Star state PUB (default: tcp://127.0.0.1:5003 primary, :5004 backup)',
    endpointFlag,
  )
  .option(
    '--bstar-remote <endpoint>',
    "the peer's Binary Star state PUB (default: tcp://127.0.0.1:5004 primary, :5003 backup)",
    endpointFlag,
  )
  .option(
    '--heartbeat-ms <ms>',
    'Binary Star state published this often; the peer is dead after 2; must match the peer',
    intFlag(1, 3_600_000),
    BSTAR_HEARTBEAT_MS,
  )
  .option('--data-dir <dir>', 'keep the map and its sequence in SQLite here (default: memory only)')
  .option('--fsync', 'fsync every commit (slower; survives power loss, not just a crash)', false)
  .option('--hugz-ms <ms>', 'HUGZ heartbeat interval', intFlag(10, 3_600_000), cloneServerDefaults.hugzIntervalMs)
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
  )
  .addOption(logLevelOption())
  .addOption(prettyOption());

serverSecurityOptions(program);
for (const option of metricsOptions()) program.addOption(option);

program.parse(process.argv);
const flags = program.opts<Flags>();
const secured = serverSecurityFromFlags('clonesrv', flags);
const role: BStarRole | undefined = flags.primary === true ? 'primary' : flags.backup === true ? 'backup' : undefined;
if (role === undefined) {
  for (const [flag, value] of [
    ['--peer-port', flags.peerPort],
    ['--bstar-local', flags.bstarLocal],
    ['--bstar-remote', flags.bstarRemote],
  ] as const) {
    if (value !== undefined) program.error(`error: ${flag} needs --primary or --backup`);
  }
}
const port = flags.port ?? (role === undefined ? 5556 : PAIR[role].port);
const logger = createRootLogger({ name: 'clonesrv', level: flags.logLevel, pretty: flags.pretty });
watchServerSecurity(secured, logger);

process.exitCode = await runDaemon({
  logger,
  start: async () => {
    const pair =
      role === undefined
        ? undefined
        : {
            role,
            stateBind: flags.bstarLocal ?? PAIR[role].bstarLocal,
            stateConnect: flags.bstarRemote ?? PAIR[role].bstarRemote,
            peer: `tcp://${flags.peerHost}:${flags.peerPort ?? PAIR[role].peerPort}`,
            heartbeatMs: flags.heartbeatMs,
          };
    const server = new CloneServer({
      ...portEndpoints(port, flags.host),
      hugzIntervalMs: flags.hugzMs,
      peerTtlMs: flags.peerTtlMs,
      maxPending: flags.maxPending,
      pair,
      dataDir: flags.dataDir,
      fsync: flags.fsync,
      security: secured.security,
      logger,
    });
    let closing = false;
    try {
      await server.start();
    } catch (err) {
      await server.close();
      throw err;
    }
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
      },
      healthy: () => !closing && server.health.ok,
      cleanup: () => server.close(),
    });
    const { snapshot, publisher, collector } = server.endpoints;
    warnPlainBinds(secured, [snapshot, publisher, collector], logger);
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
        endpoints: [snapshot, publisher, collector],
        snapshot,
        publisher,
        collector,
        ...(pair === undefined ? {} : { pair: pair.role, peer: pair.peer, bstarLocal: pair.stateBind }),
        sequence: String(server.sequence),
        keys: server.size,
        ...(flags.dataDir === undefined ? {} : { dataDir: flags.dataDir }),
        curve: secured.security !== undefined,
      },
    };
  },
});
