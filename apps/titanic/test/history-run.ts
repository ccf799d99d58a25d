/**
 * A seeded nemesis run of Titanic on real processes, recorded as a History and checked against
 * the guarantees of docs/titanic.md (`checkTitanic`). Shared by the short run in `npm test`
 * (history.test.ts) and the long one of `npm run chaos` (history.chaos.test.ts).
 *
 *   TitanicClient ────────────────────────────────────> mdbroker (process)
 *   titanic (process, --data-dir) ──> proxy T ────────> mdbroker
 *   2 echo workers (this process) ──> proxy W ────────> mdbroker
 *
 * With PostgreSQL (`postgres`), two Titanic instances share the database, reached through proxy D
 * (the first one is the one killed and stopped).
 *
 * Every link a fault can cut goes through a TCP proxy. Faults, one at a time: SIGKILL + restart of
 * Titanic and of the broker, SIGSTOP of each, partition of the Titanic link (both ways, and only
 * broker-to-Titanic: replies lost) and of the workers' link; with PostgreSQL also a black hole on
 * the database link and a crash of PostgreSQL. Every submission, fetch, close and
 * worker run is recorded: the workers record each run with a reply unique to that run, so a
 * duplicate run and the reply that was stored can both be told apart. Beside `echo` (instant), a
 * `slow` service takes 3 s per request, so restarts and faults catch requests in a worker's hands.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constantBackoff, sleep } from '@zpatterns/core';
import { MajordomoWorker } from '@zpatterns/majordomo';
import {
  appBin,
  assertHistory,
  checkTitanic,
  Daemon,
  History,
  killFault,
  nemesisSchedule,
  partitionFault,
  pauseFault,
  runNemesis,
  seededRandom,
  startTcpProxy,
  type CheckResult,
  type Fault,
  type PostgresCluster,
  type TcpProxy,
} from '@zpatterns/testkit';
import { TitanicClient, TitanicServerError } from '@zpatterns/titanic';

const HEARTBEAT_MS = 100;
const DISPATCH_TIMEOUT_MS = 5000;
/** The `slow` service's work: below the dispatch timeout, above the 2 s drain of a graceful stop. */
const SLOW_MS = 3000;
/**
 * Titanic sends a request again only once its dispatch timeout has passed (the time from its send
 * to the worker's start is the slack), except when a SQLite Titanic restarts.
 */
const MIN_REPEAT_GAP_MS = DISPATCH_TIMEOUT_MS - 500;
const SLOW_WORKERS = 4;
/**
 * A request counts as in flight this long before its run starts and after it ends (the request
 * and its reply travelling, the reply's commit). The quiet gap between faults is longer than twice
 * this, so a duplicate in the middle of a gap has no excuse.
 */
export const IN_FLIGHT_MARGIN_MS = 1000;

export interface TitanicRunOptions {
  seed: number;
  /** How long the nemesis plays. */
  durationMs: number;
  /** Faults that must come first, in order (the short run names them all). */
  first?: readonly string[];
  /** Submitting clients. @default 4 */
  clients?: number;
  /** Run two instances on this PostgreSQL cluster instead of one on SQLite. */
  postgres?: PostgresCluster;
}

export interface TitanicRunResult {
  result: CheckResult;
  history: History;
  titanicStarts: number;
}

function brokerArgs(bind: string): string[] {
  return ['--bind', bind, '--heartbeat-ms', String(HEARTBEAT_MS), '--request-ttl-ms', '3000', '--log-level', 'info'];
}

/** The faults of the run, by name. */
export const TITANIC_FAULTS = [
  'kill titanic',
  'pause broker',
  'partition titanic link',
  'partition worker link',
  'pause titanic',
  'kill broker',
  'lose replies to titanic',
  'restart titanic',
] as const;

/** The PostgreSQL run's extra faults. */
export const POSTGRES_FAULTS = ['black-hole postgres', 'crash postgres'] as const;

/** Above the 2 s drain of a graceful stop, as Titanic requires; short, so a dead instance's requests move on soon. */
const LEASE_MS = 3000;

export async function runTitanicHistory(options: TitanicRunOptions): Promise<TitanicRunResult> {
  const db = options.postgres;
  const history = new History({ seed: options.seed, name: db === undefined ? 'titanic' : 'titanic-pg' });
  const random = seededRandom(options.seed);
  const dataDir = mkdtempSync(join(tmpdir(), 'titanic-history-'));
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    const broker = await Daemon.start({ bin: appBin('mdbroker'), args: brokerArgs('tcp://127.0.0.1:*') });
    cleanup.push(() => broker.stop());
    const brokerEndpoint = (broker.ready['endpoints'] as string[])[0] as string;
    broker.options.args = brokerArgs(brokerEndpoint); // restarts bind the same port
    const titanicLink: TcpProxy = await startTcpProxy({ target: brokerEndpoint });
    const workerLink: TcpProxy = await startTcpProxy({ target: brokerEndpoint });
    cleanup.push(
      () => titanicLink.close(),
      () => workerLink.close(),
    );

    let storeArgs = ['--data-dir', dataDir];
    let databaseLink: TcpProxy | undefined;
    if (db !== undefined) {
      databaseLink = await startTcpProxy({ target: { path: join(db.dir, '.s.PGSQL.5432') } });
      cleanup.push(() => (databaseLink as TcpProxy).close());
      const url = `postgres://postgres@127.0.0.1:${databaseLink.port}/postgres`;
      storeArgs = ['--store', url, '--lease-ms', String(LEASE_MS), '--claim-interval-ms', '200'];
    }
    const startTitanic = () =>
      Daemon.start({
        bin: appBin('titanic'),
        args: [
          ...['--broker', titanicLink.endpoint, ...storeArgs],
          ...['--heartbeat-ms', String(HEARTBEAT_MS), '--dispatch-timeout-ms', String(DISPATCH_TIMEOUT_MS)],
          ...['--retry-max-ms', '500', '--request-workers', '8', '--log-level', 'info'],
          // No more dispatches in flight than `slow` has workers: a request that waits in the broker's
          // queue counts against its dispatch timeout, and would be sent again while it runs.
          ...['--concurrency', String(SLOW_WORKERS / (db === undefined ? 1 : 2))],
        ],
        readyTimeoutMs: 20_000,
      });
    const titanic = await startTitanic();
    cleanup.push(() => titanic.stop());
    if (db !== undefined) {
      const second = await startTitanic();
      cleanup.push(() => second.stop());
    }

    // --- workers: each run recorded, with a reply unique to the run ------------------------------
    const runs = new Map<string, number>();
    const worker = (name: string, service: 'echo' | 'slow') =>
      new MajordomoWorker({
        broker: workerLink.endpoint,
        service,
        heartbeatIntervalMs: HEARTBEAT_MS,
        reconnectDelay: constantBackoff(100),
        handler: async (body) => {
          const request = body[0]?.toString() ?? '';
          const n = (runs.get(request) ?? 0) + 1;
          runs.set(request, n);
          const op = history.invoke(name, 'execute', { value: request });
          if (service === 'slow') await sleep(SLOW_MS); // the work
          const reply = `${request}#${name}#${n}`;
          op.ok({ reply });
          return [Buffer.from(reply)];
        },
      });
    const workers = [
      worker('echo-1', 'echo'),
      worker('echo-2', 'echo'),
      ...Array.from({ length: SLOW_WORKERS }, (_, i) => worker(`slow-${i + 1}`, 'slow')),
    ];
    await Promise.all(workers.map((w) => w.start()));
    cleanup.push(() => Promise.all(workers.map((w) => w.close())));
    const client = await TitanicClient.start({ broker: brokerEndpoint, attemptTimeoutMs: 1000, retries: 0 });
    cleanup.push(() => client.close());

    // --- the nemesis ---------------------------------------------------------------------------
    const faults: Fault[] = [
      killFault('kill titanic', titanic, { durationMs: [300, 1000] }),
      pauseFault('pause broker', broker),
      partitionFault('partition titanic link', [titanicLink]),
      partitionFault('partition worker link', [workerLink]),
      pauseFault('pause titanic', titanic),
      killFault('kill broker', broker, { durationMs: [300, 1000] }),
      partitionFault('lose replies to titanic', [titanicLink], { direction: 'down' }),
      {
        name: 'restart titanic',
        kind: 'custom',
        durationMs: [300, 1000],
        // SIGTERM: Titanic drains what is in flight (up to 2 s) and hands it back, then exits.
        start: async () => {
          await titanic.stop();
        },
        stop: async () => {
          if (!titanic.running) await titanic.restart();
        },
      },
    ];
    if (db !== undefined && databaseLink !== undefined) {
      faults.push(
        partitionFault('black-hole postgres', [databaseLink], { durationMs: [1500, 3000] }),
        // The crash and the restart (crash recovery) happen in start(); there is nothing to heal.
        { name: 'crash postgres', kind: 'kill', start: () => db.crash(), stop: () => Promise.resolve() },
      );
    }
    const schedule = nemesisSchedule(random, faults, {
      totalMs: options.durationMs,
      faultMs: [700, 1500],
      gapMs: [2 * IN_FLIGHT_MARGIN_MS + 1000, 2 * IN_FLIGHT_MARGIN_MS + 1500],
      ...(options.first !== undefined && { first: options.first }),
    });
    const stop = new AbortController();

    // --- clients: submit while the nemesis plays, and read back what was acknowledged ------------
    const acknowledged: string[] = [];
    let counter = 0;
    const submitter = async (name: string, service: 'echo' | 'slow', pauseMs: number): Promise<void> => {
      while (!stop.signal.aborted) {
        const body = `${name}-r${counter++}`;
        const op = history.invoke(name, 'submit', { value: body, service });
        try {
          const uuid = await client.submit(service, [body]);
          op.ok({ key: uuid });
          acknowledged.push(uuid);
        } catch (err) {
          // "500": nothing was stored. A timeout: it may or may not have been.
          if (err instanceof TitanicServerError) op.fail({ error: String(err) });
          else op.unknown({ error: String(err) });
        }
        await sleep(pauseMs + Math.floor(random() * pauseMs)); // pacing, not synchronisation
      }
    };
    const fetchOnce = async (name: string, uuid: string): Promise<string> => {
      const op = history.invoke(name, 'fetch', { key: uuid });
      try {
        const result = await client.poll(uuid, { timeoutMs: 1000 });
        if (result.status === 'ok') {
          op.ok({ status: 'replied', reply: result.body.map((f) => f.toString()).join('|') });
          return 'replied';
        }
        op.ok({ status: result.status });
        return result.status;
      } catch (err) {
        op.unknown({ error: String(err) });
        return 'error';
      }
    };
    const reader = async (name: string): Promise<void> => {
      while (!stop.signal.aborted) {
        const uuid = acknowledged[Math.floor(random() * acknowledged.length)];
        if (uuid !== undefined) await fetchOnce(name, uuid);
        await sleep(50);
      }
    };

    const load = Promise.all([
      ...Array.from({ length: options.clients ?? 4 }, (_, i) => submitter(`client-${i + 1}`, 'echo', 20)),
      submitter('client-slow', 'slow', 2000),
      reader('reader-1'),
    ]);
    try {
      await runNemesis({ history, faults, schedule });
    } finally {
      stop.abort();
      await load;
    }

    // --- after the last heal: every acknowledged UUID is fetched until it has its reply ----------
    const deadline = Date.now() + 30_000;
    let next = 0;
    const finalFetcher = async (name: string): Promise<void> => {
      for (let i = next++; i < acknowledged.length; i = next++) {
        const uuid = acknowledged[i] as string;
        for (;;) {
          const status = await fetchOnce(name, uuid);
          if (status === 'replied' || status === 'unknown' || Date.now() > deadline) break;
          await sleep(100);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, i) => finalFetcher(`fetcher-${i + 1}`)));
    // Closing forgets: a fetch after a close may say "unknown".
    for (const uuid of acknowledged.slice(0, 20)) {
      const op = history.invoke('closer', 'close', { key: uuid });
      try {
        await client.closeRequest(uuid, { timeoutMs: 2000 });
        op.ok();
      } catch (err) {
        op.unknown({ error: String(err) });
      }
      await fetchOnce('closer', uuid);
    }

    const titanicStarts = titanic.logs.filter((l) => l.msg === 'ready').length;
    const result = assertHistory(history, (ops) =>
      checkTitanic(ops, {
        inFlightMarginMs: IN_FLIGHT_MARGIN_MS,
        minRepeatGapMs: MIN_REPEAT_GAP_MS,
        // A SQLite Titanic dispatches everything without a reply as soon as it restarts. On
        // PostgreSQL, the requests a killed instance held are sent again once their lease expires
        // (shorter here than the dispatch timeout), and so are those held through a database
        // outage longer than the lease.
        immediateRepeatFaults:
          db === undefined ? ['kill titanic', 'restart titanic'] : ['kill titanic', ...POSTGRES_FAULTS],
      }),
    );
    return { result, history, titanicStarts };
  } catch (err) {
    // The run itself broke (a daemon did not come back...): keep what it recorded.
    if (err instanceof Error && err.message.includes('history written to')) throw err;
    const path = history.writeJsonl();
    throw new Error(`${history.name} run with seed ${options.seed} failed; history written to ${path}`, { cause: err });
  } finally {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
