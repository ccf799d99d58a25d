/**
 * titanic: durable submissions per second and end-to-end requests per second through Titanic,
 * beside the plain Majordomo path measured in the same run. Every peer in its own process:
 *
 *   bench process                mdbroker process      titanic process (SQLite, fsync)   zpat worker echo x E
 *   TitanicClient --submit-->   ROUTER ---------->    titanic.request x W workers
 *                                                      Dispatcher --REQUEST--> ROUTER --> echo
 *                 --reply/close->                      titanic.reply/close
 *
 * Cases:
 *   mdp pipelined 1 worker    the mdp benchmark's own shape (MajordomoPipeline), for reference
 *   mdp request() 1 worker    `MajordomoClient.request()` from `--window` concurrent callers: the
 *                             same client shape as the Titanic cases, so the ratio is like for like
 *   titanic submit (durable)  `submit()` from `--window` callers; each "200" is fsync'd
 *   titanic end-to-end        `call()` = submit + waitReply + close, through the dispatcher and
 *                             `--echo-workers` echo workers
 *
 * With `--store memory` the Titanic cases run on the store in memory instead of SQLite (what the
 * worker counts do to throughput without a store's commit). With `--store postgres` the Titanic
 * cases run again on PostgreSQL, with one instance and with
 * two instances on one database (a throwaway cluster for the run, or `--pg-url URL`).
 *
 * Flags: `--requests N` (submissions, default 20k), `--e2e-requests N` (default 5k),
 * `--titanic-workers N` (titanic.request workers, default 32), `--reply-workers N` (titanic.reply
 * and titanic.close workers each, default 8), `--echo-workers N` (default 2),
 * `--concurrency N` (dispatcher, default 64).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MajordomoClient, MajordomoPipeline } from '@zpatterns/majordomo';
import { TitanicClient } from '@zpatterns/titanic';
import { startPostgres, type PostgresCluster } from '@zpatterns/testkit';
import { appScript, Peer, stopAll } from '../lib/peer.js';
import { drivePipelined, readSeq, seqFrame } from '../lib/pipelined.js';
import { Latencies } from '../lib/stats.js';
import type { BenchContext, BenchReport, Benchmark, CaseResult } from '../lib/types.js';

const HELLO = Buffer.from('Hello world');

/** `window` callers issuing `call(seq)` back to back until `total` calls completed. */
async function driveConcurrent(
  total: number,
  window: number,
  call: (seq: number) => Promise<void>,
): Promise<CaseResult> {
  const latencies = new Latencies(total);
  let next = 0;
  const started = performance.now();
  const caller = async (): Promise<void> => {
    for (let seq = next++; seq < total; seq = next++) {
      const t0 = performance.now();
      await call(seq);
      latencies.record(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, total) }, caller));
  const elapsedMs = performance.now() - started;
  const round = (ms: number): number => Math.round(ms * 1000) / 1000;
  return {
    rps: Math.round((total / elapsedMs) * 1000),
    p50Ms: round(latencies.percentile(50)),
    p99Ms: round(latencies.percentile(99)),
    requests: total,
    elapsedMs: Math.round(elapsedMs),
  };
}

function positive(value: string | true | undefined, fallback: number): number {
  const n = typeof value === 'string' ? Number(value) : Number.NaN;
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

async function waitForService(endpoint: string, service: string): Promise<void> {
  const client = await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 2000, retries: 2 });
  try {
    for (let i = 0; i < 300; i++) {
      if ((await client.serviceStatus(service)) === '200') return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`service ${service} did not register within 15 s`);
  } finally {
    await client.close();
  }
}

interface TitanicRun {
  readonly ctx: BenchContext;
  readonly endpoint: string;
  readonly submissions: number;
  readonly e2e: number;
  readonly window: number;
  readonly cases: Record<string, CaseResult>;
}

/**
 * One Titanic configuration: start its instances (one process each, `argsList`), measure durable
 * submissions, wait until every one is answered (and close it), then end-to-end calls; stop them.
 */
async function measureTitanic(run: TitanicRun, label: string, argsList: readonly string[][]): Promise<void> {
  const { ctx, endpoint, submissions, e2e, window, cases } = run;
  const instances: Peer[] = [];
  try {
    for (const args of argsList) instances.push(await Peer.start(appScript('titanic'), args));
    await waitForService(endpoint, 'titanic.request');
    const client = await TitanicClient.start({
      broker: endpoint,
      maxSockets: window,
      pollIntervalMs: 5,
      maxPollIntervalMs: 50,
    });
    try {
      ctx.log(`${label}: ${submissions} durable submissions, ${window} callers`);
      const submitted: string[] = [];
      const rssBeforeKb = await (instances[0] as Peer).rssKb();
      cases[`${label} submit (durable)`] = await driveConcurrent(submissions, window, async () => {
        submitted.push(await client.submit('echo', [HELLO]));
      });
      ctx.log(`${label}: waiting until the dispatcher has answered every submission`);
      const drainStart = performance.now();
      let index = 0;
      await Promise.all(
        Array.from({ length: window }, async () => {
          for (let i = index++; i < submitted.length; i = index++) {
            const uuid = submitted[i] as string;
            await client.waitReply(uuid, { pollIntervalMs: 20, maxPollIntervalMs: 200 });
            await client.closeRequest(uuid);
          }
        }),
      );
      const drainMs = performance.now() - drainStart;
      ctx.log(`${label}: ${e2e} end-to-end calls (submit + waitReply + close)`);
      cases[`${label} end-to-end`] = {
        ...(await driveConcurrent(e2e, window, async () => {
          await client.call('echo', [HELLO]);
        })),
        backlogDrainMs: Math.round(drainMs),
        rssBeforeKb,
        rssAfterKb: await (instances[0] as Peer).rssKb(),
      };
    } finally {
      await client.close();
    }
  } finally {
    await stopAll(instances);
  }
}

export const benchmark: Benchmark = {
  description: 'Titanic: durable submissions and end-to-end requests, beside the plain Majordomo path',
  async run(ctx: BenchContext): Promise<BenchReport> {
    const submissions = ctx.requests ?? 20_000;
    const e2e = positive(ctx.flags['e2e-requests'], 5000);
    const titanicWorkers = positive(ctx.flags['titanic-workers'], 32);
    const echoWorkers = positive(ctx.flags['echo-workers'], 2);
    const replyWorkers = positive(ctx.flags['reply-workers'], 8);
    const concurrency = positive(ctx.flags['concurrency'], 64);
    const window = ctx.window;
    const cases: Record<string, CaseResult> = {};
    const dataDir = mkdtempSync(join(tmpdir(), 'titanic-bench-'));
    const store = ctx.flags['store'];
    if (store !== undefined && store !== 'postgres' && store !== 'sqlite' && store !== 'memory') {
      throw new Error(`--store ${String(store)}: expected sqlite (the default), memory or postgres`);
    }
    // PostgreSQL: --pg-url, or a throwaway cluster on a unix socket for the run.
    let cluster: PostgresCluster | undefined;
    let pgUrl: string | undefined;
    if (store === 'postgres') {
      const given = ctx.flags['pg-url'];
      if (typeof given === 'string') pgUrl = given;
      else {
        ctx.log('titanic: starting a throwaway PostgreSQL cluster');
        cluster = await startPostgres();
        pgUrl = cluster.url;
      }
    }
    const broker = await Peer.start(appScript('mdbroker'), ['--bind', 'tcp://127.0.0.1:*', '--log-level', 'info']);
    const peers: Peer[] = [];
    try {
      const endpoint = broker.endpoint;
      for (let i = 0; i < echoWorkers; i++) {
        peers.push(
          await Peer.start(appScript('zpat'), ['worker', 'echo', '--broker', endpoint, '--log-level', 'info']),
        );
      }
      await waitForService(endpoint, 'echo');

      // --- The plain Majordomo path, same run, same broker ---------------------------------------
      ctx.log(`titanic: mdp pipelined, ${submissions} requests`);
      {
        const pipeline = await MajordomoPipeline.start({ broker: endpoint, sendHighWaterMark: 0 });
        try {
          async function* replies(): AsyncGenerator<number> {
            for await (const reply of pipeline.replies()) yield readSeq(reply.body[0]);
          }
          cases[`mdp pipelined ${echoWorkers} workers`] = await drivePipelined({
            total: submissions,
            window,
            send: (seq) => pipeline.send('echo', [seqFrame(seq), HELLO]),
            replies: replies(),
          });
        } finally {
          await pipeline.close();
        }
      }
      ctx.log(`titanic: mdp request(), ${submissions} requests, ${window} callers`);
      {
        const client = await MajordomoClient.start({ broker: endpoint, maxSockets: window, maxIdleSockets: window });
        try {
          cases[`mdp request() ${echoWorkers} workers`] = await driveConcurrent(submissions, window, async () => {
            await client.request('echo', [HELLO]);
          });
        } finally {
          await client.close();
        }
      }

      // --- Titanic on SQLite, then (with --store postgres) on PostgreSQL with 1 and 2 instances ----
      const titanicFlags = [
        '--request-workers',
        String(titanicWorkers),
        '--reply-workers',
        String(replyWorkers),
        '--concurrency',
        String(concurrency),
        '--log-level',
        'info',
      ];
      const run = { ctx, endpoint, submissions, e2e, window, cases };
      if (store === 'memory') {
        await measureTitanic(run, 'titanic (memory)', [['--broker', endpoint, '--store', 'memory:', ...titanicFlags]]);
      } else {
        await measureTitanic(run, 'titanic (SQLite)', [['--broker', endpoint, '--data-dir', dataDir, ...titanicFlags]]);
      }
      if (pgUrl !== undefined) {
        const pgArgs = ['--broker', endpoint, '--store', pgUrl, ...titanicFlags];
        await measureTitanic(run, 'titanic (PostgreSQL, 1 instance)', [pgArgs]);
        await measureTitanic(run, 'titanic (PostgreSQL, 2 instances)', [pgArgs, pgArgs]);
      }
    } finally {
      await stopAll(peers);
      await broker.stop();
      await cluster?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
    const mdp = cases[`mdp request() ${echoWorkers} workers`];
    const durable = cases['titanic (SQLite) submit (durable)'];
    const notes = [
      `${submissions} submissions from ${window} concurrent callers; each Titanic instance with ${titanicWorkers} titanic.request and ${replyWorkers} titanic.reply/close workers, dispatcher concurrency ${concurrency}, ${echoWorkers} echo workers; ${store === 'memory' ? 'the store in memory (nothing durable: "durable" in the case names is the SQLite runs\' word)' : 'SQLite WAL, synchronous=FULL (fsync per group commit)'}`,
      ...(pgUrl === undefined
        ? []
        : [
            `PostgreSQL: ${cluster === undefined ? 'the --pg-url database' : 'a throwaway local cluster on a unix socket, fsync=off (commits reach the OS, not the disk: not comparable with SQLite fsync figures as a durability cost)'}; leases 30 s, claims every 1 s plus at once after a local submission`,
          ]),
      `target: durable submissions >= 0.3 x the plain broker path (same client shape): ${
        mdp !== undefined && durable !== undefined ? (durable.rps / mdp.rps).toFixed(2) : '?'
      } x mdp request()`,
      'the book: "performance is surely terrible" (one file per message, full rescan every second, no fsync)',
    ];
    return { cases, notes };
  },
};
