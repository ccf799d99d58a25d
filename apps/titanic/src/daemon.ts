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
  checkMetricsPort,
  createRegistry,
  exitUsage,
  Gauge,
  createRootLogger,
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
} from '@zpatterns/app-kit';
import { logBrokerLink, ownWorkerChatter } from './broker-link.js';
import { checkBroker } from './broker-watch.js';
import { timedCommits } from './commit-timer.js';
import { parseTitanicFlags, type TitanicFlags } from './flags.js';
import { openStore } from './open-store.js';
import { titanicGauges, titanicStatus } from './status.js';
import { exponentialBackoff, loadPublicKey, toError, type SecurityOptions, type ZapRequest } from '@zpatterns/core';
import { Broker, DEFAULT_BROKER_ENDPOINT } from '@zpatterns/majordomo';
import { TitanicServer } from '@zpatterns/titanic';

const { flags, inMemory } = parseTitanicFlags(process.argv);
const secured = titanicSecurity(flags);

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
function titanicSecurity(f: TitanicFlags): DaemonSecurity & { broker: SecurityOptions | undefined } {
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
    const { store, storeReady } = await openStore(flags, inMemory, logger, () =>
      Promise.all([watch?.close(), broker?.close()]),
    );
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
