/**
 * titanic: the Titanic (9/TSP) service as a daemon: a durable store (SQLite in `--data-dir`, or
 * PostgreSQL with `--store`), the three titanic.* services registered with a Majordomo broker,
 * and the dispatcher.
 *
 *   node_modules/.bin/titanic --broker tcp://127.0.0.1:5555 --data-dir /var/lib/titanic
 *   node_modules/.bin/titanic --with-broker --broker tcp://127.0.0.1:5555     # broker + Titanic in one process
 *   node_modules/.bin/titanic --broker tcp://127.0.0.1:5555 --store postgres://titanic@db/titanic   # N instances
 *
 * Every flag can also come from ZPAT_TITANIC_<FLAG> (ZPAT_TITANIC_DATA_DIR); the command line wins.
 * `--workers` is the old name of `--request-workers`.
 *
 * Prints one JSON `ready` line, logs JSON lines, shuts down cleanly on SIGINT/SIGTERM.
 */
import {
  addDaemonOptions,
  addFlagAliases,
  bindEndpointFlag,
  checkEndpoint,
  checkMetricsPort,
  createProgram,
  createRegistry,
  exitUsage,
  Gauge,
  createRootLogger,
  envOptions,
  intFlag,
  gaugesOf,
  logDeprecations,
  prepareDataDir,
  runDaemon,
  serverSecurityFromFlags,
  serveMetrics,
  statsCounters,
  statusSource,
  Histogram,
  warnPlainBinds,
  watchServerSecurity,
  type DaemonSecurity,
  type LogLevel,
  type MetricsFlags,
  type ServerSecurityFlags,
} from '@zpatterns/app-kit';
import { logBrokerLink, ownWorkerChatter } from './broker-link.js';
import { checkBroker } from './broker-watch.js';
import { timedCommits } from './commit-timer.js';
import { dataDirOption } from './store-admin.js';
import { titanicGauges, titanicStatus } from './status.js';
import { InvalidArgumentError } from 'commander';
import { exponentialBackoff, loadPublicKey, toError, type SecurityOptions, type ZapRequest } from '@zpatterns/core';
import { Broker, DEFAULT_BROKER_ENDPOINT } from '@zpatterns/majordomo';
import {
  MemoryStore,
  PostgresStore,
  SqliteStore,
  TitanicServer,
  titanicServerDefaults,
  type PostgresSettings,
  type TitanicStore,
} from '@zpatterns/titanic';

/** `--store memory:`: the store in this process, lost at exit (what durability costs is measured against it). */
const MEMORY_STORE = 'memory:';

interface Flags extends ServerSecurityFlags, MetricsFlags {
  broker: string;
  dataDir: string;
  fsync: boolean;
  store?: string;
  leaseMs: number;
  claimIntervalMs: number;
  maxBacklog: number;
  maxPendingPerService: number;
  concurrency: number;
  requestWorkers: number;
  replyWorkers: number;
  heartbeatMs: number;
  liveness: number;
  dispatchTimeoutMs: number;
  retryMaxMs: number;
  replyRetentionMs: number;
  mmiCheck: boolean;
  withBroker: boolean;
  summary: boolean;
  logLevel: LogLevel;
  pretty: boolean;
}

const program = createProgram('titanic', 'Titanic: durable, disconnected request-reply (9/TSP) on a Majordomo broker')
  .option(
    '--broker <endpoint>',
    'broker endpoint to connect to (to bind, with --with-broker)',
    bindEndpointFlag,
    DEFAULT_BROKER_ENDPOINT,
  )
  .addOption(dataDirOption('directory of the SQLite store (the default store)'))
  .option(
    '--no-fsync',
    "SQLite: do not fsync each commit (synchronous=NORMAL); a power loss (not a crash of Titanic) may lose the last acknowledged requests, as with the book's C titanic, which never fsyncs",
  )
  .option(
    '--store <url>',
    'a PostgreSQL store instead of SQLite, shared by any number of instances: postgres://USER@HOST[:PORT]/DB (a unix socket: postgres://USER@%2Fsocket%2Fdir/DB); memory: keeps everything in this process and loses it at exit (not durable: for measuring what the store costs)',
    storeUrlFlag,
  )
  .option(
    '--lease-ms <ms>',
    "with --store: how long a claim holds a request; a dead instance's requests are taken over after it",
    intFlag(100, 86_400_000),
    titanicServerDefaults.leaseMs,
  )
  .option(
    '--claim-interval-ms <ms>',
    'with --store: how often to look for requests submitted to other instances',
    intFlag(10, 3_600_000),
    titanicServerDefaults.claimIntervalMs,
  )
  .option(
    '--max-backlog <n>',
    'refuse submissions ("500") while this many requests are stored and not yet answered',
    intFlag(1, Number.MAX_SAFE_INTEGER),
    titanicServerDefaults.maxBacklog,
  )
  .option(
    '--max-pending-per-service <n>',
    'refuse submissions ("500") for a service that has this many requests stored and not yet answered',
    intFlag(1, Number.MAX_SAFE_INTEGER),
    titanicServerDefaults.maxPendingPerService,
  )
  .option(
    '--concurrency <n>',
    'requests in flight to services at most',
    intFlag(1, 100_000),
    titanicServerDefaults.concurrency,
  )
  .option(
    '--request-workers <n>',
    'MDP workers serving titanic.request (submissions handled at once)',
    intFlag(1, 1024),
    titanicServerDefaults.requestWorkers,
  )
  .option(
    '--reply-workers <n>',
    'MDP workers serving titanic.reply, and as many for titanic.close',
    intFlag(1, 1024),
    titanicServerDefaults.replyWorkers,
  )
  .option(
    '--heartbeat-ms <ms>',
    'MDP heartbeat interval; must match the broker',
    intFlag(1, 3_600_000),
    titanicServerDefaults.heartbeatIntervalMs,
  )
  .option(
    '--liveness <n>',
    'silent heartbeats before the broker is dead',
    intFlag(1, 1000),
    titanicServerDefaults.liveness,
  )
  .option(
    '--dispatch-timeout-ms <ms>',
    'wait this long for a service reply to one dispatch before retrying later',
    intFlag(1, 86_400_000),
    titanicServerDefaults.dispatchTimeoutMs,
  )
  .option(
    '--retry-max-ms <ms>',
    'longest pause before re-sending a request (backoff cap)',
    intFlag(1, 86_400_000),
    30_000,
  )
  .option(
    '--reply-retention-ms <ms>',
    'delete replies no client closed after this long (0: keep until titanic.close)',
    intFlag(0, Number.MAX_SAFE_INTEGER),
    titanicServerDefaults.replyRetentionMs,
  )
  .option('--no-mmi-check', 'do not ask mmi.service before probing a failing service')
  .option('--with-broker', 'also run a Majordomo broker in this process, bound to --broker', false)
  .option('--summary', 'print a short human summary (what listens where, what to try) on stderr once ready', false);
addDaemonOptions(program, {
  curveServerKey:
    "CURVE: the broker's public key (Z85 or its .pub file); Titanic connects with --curve-secret-key-file",
});
envOptions(program, 'ZPAT_TITANIC');
addFlagAliases(program, [
  { flags: '--workers <n>', replacement: '--request-workers' },
  { flags: '--timeout-ms <ms>', replacement: '--dispatch-timeout-ms' },
]);

program.parse(process.argv);
const flags = program.opts<Flags & { curveServerKey?: string }>();
/** Given on the command line or in the environment, not left at its default. */
const given = (key: string): boolean => ['cli', 'env'].includes(program.getOptionValueSource(key) ?? '');
if (!flags.withBroker) {
  try {
    checkEndpoint(flags.broker, 'connect');
  } catch (err) {
    exitUsage('titanic', `--broker: ${toError(err).message} (or bind it with --with-broker)`);
  }
}
const inMemory = flags.store === MEMORY_STORE;
if (flags.store !== undefined && given('fsync')) {
  exitUsage('titanic', '--no-fsync is for the SQLite store (PostgreSQL has its own synchronous_commit)');
}
if (flags.store !== undefined && given('dataDir')) {
  exitUsage('titanic', '--store and --data-dir are exclusive (PostgreSQL or SQLite)');
}
for (const [key, flag] of [
  ['leaseMs', '--lease-ms'],
  ['claimIntervalMs', '--claim-interval-ms'],
] as const) {
  if ((flags.store === undefined || inMemory) && given(key)) {
    exitUsage('titanic', `${flag} needs --store (leases exist only on a PostgreSQL store)`);
  }
}
if (flags.store !== undefined && flags.leaseMs <= titanicServerDefaults.drainTimeoutMs) {
  // A request still running at shutdown keeps its lease through the drain, which must fit in it.
  exitUsage('titanic', `--lease-ms must be above ${titanicServerDefaults.drainTimeoutMs} (the shutdown drain)`);
}
const secured = titanicSecurity(flags);

/** `--store`: a postgres:// or postgresql:// URL (the only server-grade store so far), or `memory:`. */
function storeUrlFlag(value: string): string {
  if (value === MEMORY_STORE) return value;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`not a URL: ${JSON.stringify(value)} (expected postgres://USER@HOST/DB)`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new InvalidArgumentError(
      `unsupported store ${JSON.stringify(url.protocol)} (expected postgres://USER@HOST/DB)`,
    );
  }
  return value;
}

/** The URL without its password, for logs and the ready line. */
function redact(value: string): string {
  const url = new URL(value);
  if (url.password !== '') url.password = '***';
  return url.toString();
}
/** Set once the daemon is ready: before that, a failed start has no run to give stats of. */
let serving = false;
const logger = createRootLogger({
  name: 'titanic',
  level: flags.logLevel,
  pretty: flags.pretty,
  demote: (msg, bindings) =>
    // The in-process broker greeting Titanic's own workers is chatter, not news; so is each of
    // them losing the broker (the daemon says it once, see broker-link.ts); and the in-process
    // broker's stats when it closes because the start failed (the one stderr line says it all).
    (msg === 'worker ready' && String(bindings['service']).startsWith('titanic.')) ||
    ownWorkerChatter(msg, bindings) ||
    (msg === 'broker stats' && !serving),
});
logDeprecations(logger);
watchServerSecurity(secured, logger);

/**
 * Titanic's key pair secures its connections to the broker (`--curve-server-key` names the broker);
 * with `--with-broker` it is also the in-process broker's key, and Titanic's own key is allowed.
 */
function titanicSecurity(f: typeof flags): DaemonSecurity & { broker: SecurityOptions | undefined } {
  if (!f.withBroker && f.allowKeys !== undefined) exitUsage('titanic', '--allow-keys needs --with-broker');
  const server = serverSecurityFromFlags('titanic', f);
  const curve = server.keys;
  if (curve === undefined) {
    if (f.curveServerKey !== undefined) exitUsage('titanic', '--curve-server-key needs --curve-secret-key-file');
    return { ...server, broker: undefined };
  }
  if (!f.withBroker && f.curveServerKey === undefined) {
    exitUsage('titanic', "--curve-secret-key-file needs --curve-server-key (the broker's public key) or --with-broker");
  }
  let serverPublicKey = curve.publicKey;
  try {
    if (!f.withBroker) serverPublicKey = loadPublicKey(f.curveServerKey ?? '');
  } catch (err) {
    exitUsage('titanic', toError(err).message);
  }
  const list = server.allowList;
  const authorize = list && ((r: ZapRequest) => r.publicKey === curve.publicKey || list.has(r.publicKey ?? ''));
  return {
    ...server,
    security: { curve: { ...curve, serverPublicKey } },
    broker: { curve, authorize },
  };
}

process.exitCode = await runDaemon({
  logger,
  start: async (signal) => {
    // Before anything binds: a data directory or a metrics port that cannot be used is the whole story.
    if (flags.store === undefined) prepareDataDir(flags.dataDir);
    await checkMetricsPort(flags);
    let broker: Broker | undefined;
    let brokerEndpoint = flags.broker;
    const endpoints: string[] = [];
    if (flags.withBroker) {
      broker = await Broker.start({
        bind: flags.broker,
        logger,
        heartbeatIntervalMs: flags.heartbeatMs,
        liveness: flags.liveness,
        maxMessageBytes: flags.maxMessageBytes,
        security: secured.broker,
      });
      brokerEndpoint = broker.endpoints.clients[0] as string;
      endpoints.push(brokerEndpoint);
    }
    let store: TitanicStore;
    let storeReady: Record<string, unknown>;
    const watch =
      broker === undefined
        ? await checkBroker({
            endpoint: brokerEndpoint,
            // Two SQLite stores behind one broker would split requests and replies between them.
            refuseOthers: flags.store === undefined || inMemory,
            expiryMs: flags.heartbeatMs * (flags.liveness + 2),
            pollMs: flags.heartbeatMs,
            logger,
            security: secured.security,
            signal,
          })
        : undefined;
    if (inMemory) {
      store = new MemoryStore();
      storeReady = { store: MEMORY_STORE, durable: false };
    } else if (flags.store === undefined) {
      let sqlite: SqliteStore;
      try {
        sqlite = await SqliteStore.start({ dataDir: flags.dataDir, fsync: flags.fsync });
      } catch (err) {
        await Promise.all([watch?.close(), broker?.close()]);
        throw err;
      }
      store = sqlite;
      const settings = sqlite.settings();
      storeReady = {
        dataDir: flags.dataDir,
        store: sqlite.path,
        journalMode: settings.journalMode,
        synchronous: settings.synchronous,
      };
    } else {
      let pg: PostgresStore;
      try {
        pg = await PostgresStore.start({ url: flags.store, logger });
        store = pg;
      } catch (err) {
        await Promise.all([watch?.close(), broker?.close()]);
        throw err;
      }
      let settings: PostgresSettings;
      try {
        settings = await pg.settings();
      } catch (err) {
        await store.close();
        await Promise.all([watch?.close(), broker?.close()]);
        throw err;
      }
      storeReady = {
        store: redact(flags.store),
        leaseMs: flags.leaseMs,
        synchronousCommit: settings.synchronousCommit,
        fsync: settings.fsync,
        synchronousStandbyNames: settings.synchronousStandbyNames,
      };
    }
    // The commit-latency histogram exists before the server, whose store reports every commit into it.
    const registry = flags.metricsPort === undefined ? undefined : createRegistry();
    const commitSeconds =
      registry &&
      new Histogram({
        name: 'zpatterns_titanic_store_commit_seconds',
        help: 'duration of one store commit (a group of writes: fsync for SQLite, COMMIT round trip for PostgreSQL)',
        labelNames: ['result'],
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [registry],
      });
    const server = new TitanicServer({
      broker: brokerEndpoint,
      store:
        commitSeconds === undefined
          ? store
          : timedCommits(store, (seconds, ok) => commitSeconds.observe({ result: ok ? 'ok' : 'error' }, seconds)),
      logger,
      concurrency: flags.concurrency,
      requestWorkers: flags.requestWorkers,
      replyWorkers: flags.replyWorkers,
      heartbeatIntervalMs: flags.heartbeatMs,
      liveness: flags.liveness,
      dispatchTimeoutMs: flags.dispatchTimeoutMs,
      mmiCheck: flags.mmiCheck,
      replyRetentionMs: flags.replyRetentionMs,
      maxBacklog: flags.maxBacklog,
      maxPendingPerService: flags.maxPendingPerService,
      leaseMs: flags.leaseMs,
      claimIntervalMs: flags.claimIntervalMs,
      // The broker's bound (the in-process one takes the same flag): Titanic takes what it accepts.
      maxMessageBytes: flags.maxMessageBytes,
      security: secured.security,
      retryDelay: exponentialBackoff({
        initialMs: Math.min(1000, flags.retryMaxMs),
        maxMs: flags.retryMaxMs,
        jitter: 0.2,
      }),
      serviceRetryDelay: exponentialBackoff({
        initialMs: Math.min(250, flags.retryMaxMs),
        maxMs: Math.min(5000, flags.retryMaxMs),
        jitter: 0.2,
      }),
      // Reconnect to a lost broker from one heartbeat on, up to 13 of them (2.5 s .. 32 s by default).
      reconnectDelay: exponentialBackoff({ initialMs: flags.heartbeatMs, maxMs: flags.heartbeatMs * 13, jitter: 0.2 }),
    });
    // Subscribed before the start, so the first registration is seen; ends when the server closes.
    const link = logBrokerLink(server, logger, flags.requestWorkers + 2 * flags.replyWorkers);
    try {
      // A failed start closes the server (and with it the store).
      await server.start();
    } catch (err) {
      await Promise.all([link, watch?.close(), broker?.close()]);
      throw err;
    }
    const { recovered } = server.stats;
    const metrics = await serveMetrics(flags, {
      logger,
      ...(registry === undefined ? {} : { registry }),
      register: (registry) => {
        statsCounters(registry, 'titanic', () => server.stats);
        statsCounters(registry, 'titanic_store', () => store.stats);
        titanicGauges(registry, server);
        if (broker !== undefined) {
          const inProcess = broker;
          statsCounters(registry, 'broker', () => inProcess.stats);
          gaugesOf(registry, 'broker', () => ({ ...inProcess.gauges() }));
        }
        new Gauge({
          name: 'zpatterns_titanic_requests',
          help: 'requests in the store by state (pending: not yet replied; done: reply stored)',
          labelNames: ['state'],
          registers: [registry],
          async collect() {
            // While the database is down the gauge keeps its last values; /metrics still answers.
            const counts = await store.counts().catch(() => undefined);
            if (counts === undefined) return;
            this.set({ state: 'pending' }, counts.pending);
            this.set({ state: 'done' }, counts.replied);
          },
        });
      },
      // 503 while the store cannot reach its database (and while starting or closing).
      healthy: () => server.healthy,
      status: statusSource(
        'titanic',
        titanicStatus(server, inMemory ? 'memory' : flags.store === undefined ? 'sqlite' : 'postgres', broker),
      ),
      cleanup: async () => {
        await server.close();
        await Promise.all([link, watch?.close(), broker?.close()]);
      },
    });
    if (flags.summary) {
      process.stderr.write(summary(brokerEndpoint, String(storeReady['store']), broker !== undefined));
    }
    warnPlainBinds(secured, endpoints, logger);
    serving = true;
    return {
      handle: {
        close: async () => {
          await server.close();
          await Promise.all([link, watch?.close(), broker?.close()]);
        },
      },
      metrics,
      shutdownDelayMs: flags.shutdownDelayMs,
      stats: () => ({ ...server.stats, store: store.stats }),
      ready: {
        endpoints,
        broker: brokerEndpoint,
        ...storeReady,
        ...(server.instance === undefined ? {} : { instance: server.instance }),
        recovered,
        concurrency: flags.concurrency,
        requestWorkers: flags.requestWorkers,
        replyWorkers: flags.replyWorkers,
        curve: secured.security !== undefined,
      },
    };
  },
});

/** What `npm start` shows a person instead of a screen of JSON: where things are, what to try. */
function summary(brokerEndpoint: string, storePath: string, withBroker: boolean): string {
  const broker = brokerEndpoint.replace('tcp://0.0.0.0:', 'tcp://127.0.0.1:');
  const flag = broker === DEFAULT_BROKER_ENDPOINT ? '' : ` --broker ${broker}`;
  return [
    '',
    withBroker
      ? `  Majordomo broker listening on ${broker} (MDP/0.1 and MDP/0.2 clients and workers, MMI)`
      : `  Titanic registered with the Majordomo broker at ${broker}`,
    `  Titanic (titanic.request, titanic.reply, titanic.close) storing in ${storePath}`,
    '',
    '  Try, in another terminal:',
    `    node_modules/.bin/zpat worker echo${flag}             # an echo worker`,
    `    node_modules/.bin/zpat call echo "Hello world"${flag}   # prints: Hello world`,
    `    node_modules/.bin/zpat titanic submit echo "Hello"${flag}   # durable: prints a UUID`,
    `    node_modules/.bin/zpat titanic fetch <uuid>${flag}         # its reply, once the echo worker ran`,
    '',
    `  Logs: JSON lines on stdout (${flags.logLevel} and above). Ctrl-C stops.`,
    '',
    '',
  ].join('\n');
}
