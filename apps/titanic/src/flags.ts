/**
 * The `titanic` daemon's command line: every flag (also from ZPAT_TITANIC_<FLAG>; the command line
 * wins), and the checks between them. A bad command line exits 2 with one line on stderr.
 */
import {
  addDaemonOptions,
  addFlagAliases,
  bindEndpointFlag,
  checkEndpoint,
  createProgram,
  envOptions,
  exitUsage,
  intFlag,
  type LogLevel,
  type MetricsFlags,
  type ServerSecurityFlags,
} from '@zpatterns/app-kit';
import { toError } from '@zpatterns/core';
import { DEFAULT_BROKER_ENDPOINT } from '@zpatterns/majordomo';
import { titanicServerDefaults } from '@zpatterns/titanic';
import { InvalidArgumentError } from 'commander';
import { dataDirOption } from './store-admin.js';

/** `--store memory:`: the store in this process, lost at exit (what durability costs is measured against it). */
export const MEMORY_STORE = 'memory:';

export interface TitanicFlags extends ServerSecurityFlags, MetricsFlags {
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
  /** CURVE: the broker's public key (`addDaemonOptions`). */
  curveServerKey?: string;
}

/** The daemon's flags from `argv`, checked; `inMemory`: `--store memory:`. */
export function parseTitanicFlags(argv: readonly string[]): { flags: TitanicFlags; inMemory: boolean } {
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

  program.parse(argv);
  const flags = program.opts<TitanicFlags>();
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
  return { flags, inMemory };
}

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
