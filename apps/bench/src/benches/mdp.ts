/**
 * mdp: the book's Majordomo shape (mdclient2 -> mdbroker -> mdworker), "Hello world" echo
 * requests from a pipelined client (`MajordomoPipeline`, one DEALER, `--window` in flight)
 * through the `mdbroker` daemon to workers, every peer in its own process:
 *
 *   bench process                 mdbroker process              zpat worker echo x N processes
 *   MajordomoPipeline --REQUEST--> ROUTER --REQUEST--> DEALER (one per worker process)
 *                     <--REPLY----        <--REPLY---
 *
 * Cases (default): `raw-echo window 1` (sequential round trips, the ceiling of a one-worker
 * MDP path, 20k), `mdp 1 worker`, `mdp 10 workers` (100k requests each, `--requests`).
 * Flags: `--mdp 0.2` (18/MDP), `--memory` (broker RSS before and after `--memory-requests`,
 * default 1M, through 1 worker, sampled after every fifth), `--scaling` (1,000 services x 2
 * workers against 1 service x 2,000 workers: the same workers in two processes, requests spread
 * round-robin over the services).
 *
 * The book's C broker managed 11.5k req/s with 1 worker and 25.9k with 10 (on its machine).
 */
import { MajordomoClient, MajordomoPipeline, type MdpVersion } from '@zpatterns/majordomo';
import { drivePipelined, readSeq, seqFrame } from '../lib/pipelined.js';
import { measureRawEcho } from './raw-echo.js';
import { appScript, Peer, peerScript, stopAll } from '../lib/peer.js';
import type { BenchContext, BenchReport, Benchmark, CaseResult } from '../lib/types.js';

const HELLO = Buffer.from('Hello world');

interface Setup {
  broker: Peer;
  peers: Peer[];
}

async function startBroker(): Promise<Peer> {
  return Peer.start(appScript('mdbroker'), ['--bind', 'tcp://127.0.0.1:*', '--log-level', 'info']);
}

/** Wait until the broker reports `expected` live workers over `services` (via MMI). */
async function waitForWorkers(endpoint: string, services: readonly string[], perService: number): Promise<void> {
  const client = await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 5000, retries: 2 });
  try {
    for (let i = 0; i < 600; i++) {
      const listed = await client.services();
      const counts = new Map(listed.map((s) => [s.name.toString(), s.workers]));
      if (services.every((s) => (counts.get(s) ?? 0) >= perService)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('workers did not all register within 30 s');
  } finally {
    await client.close();
  }
}

/** Drive `total` pipelined requests, service chosen per sequence number. */
async function measure(
  endpoint: string,
  version: MdpVersion,
  total: number,
  window: number,
  serviceOf: (seq: number) => string,
): Promise<CaseResult> {
  const pipeline = await MajordomoPipeline.start({ broker: endpoint, version, sendHighWaterMark: 0 });
  try {
    // Warm-up: one round trip per distinct service seen in the first requests (JIT, connections).
    const warm = new Set<string>();
    for (let seq = 0; seq < Math.min(total, 2000); seq++) warm.add(serviceOf(seq));
    for (const service of warm) pipeline.send(service, [seqFrame(0), HELLO]);
    for (let i = 0; i < warm.size; i++) {
      await pipeline.recv({ timeoutMs: 30_000 }); // TimeoutError: the warm-up request was not answered
    }
    async function* replies(): AsyncGenerator<number> {
      for await (const reply of pipeline.replies()) yield readSeq(reply.body[0]);
    }
    return await drivePipelined({
      total,
      window,
      send: (seq) => pipeline.send(serviceOf(seq), [seqFrame(seq), HELLO]),
      replies: replies(),
    });
  } finally {
    await pipeline.close();
  }
}

async function withEchoWorkers(
  version: MdpVersion,
  workers: number,
  body: (setup: Setup) => Promise<CaseResult>,
): Promise<CaseResult> {
  const broker = await startBroker();
  const peers: Peer[] = [];
  try {
    const started = await Promise.all(
      Array.from({ length: workers }, () =>
        Peer.start(appScript('zpat'), [
          'worker',
          'echo',
          '--broker',
          broker.endpoint,
          '--mdp',
          version,
          '--log-level',
          'info',
        ]),
      ),
    );
    peers.push(...started);
    await waitForWorkers(broker.endpoint, ['echo'], workers);
    return await body({ broker, peers });
  } finally {
    await stopAll(peers);
    await broker.stop();
  }
}

/**
 * `services` services, `workersPerProcess / services` workers each, in two worker processes: the
 * same 2 x `workersPerProcess` workers whatever the number of services, so only the broker's
 * per-service bookkeeping differs between the cases compared.
 */
async function scalingCase(
  version: MdpVersion,
  services: number,
  workersPerProcess: number,
  total: number,
  window: number,
): Promise<CaseResult> {
  const broker = await startBroker();
  const peers: Peer[] = [];
  const perService = workersPerProcess / services;
  try {
    for (let p = 0; p < 2; p++) {
      const args = ['--broker', broker.endpoint, '--services', String(services), '--per-service', String(perService)];
      peers.push(await Peer.start(peerScript('mdp-workers'), [...args, '--mdp', version], 60_000));
    }
    const names = Array.from({ length: services }, (_, i) => `svc-${i}`);
    await waitForWorkers(broker.endpoint, names, 2 * perService);
    const result = await measure(broker.endpoint, version, total, window, (seq) => names[seq % services] as string);
    return { ...result, services, workers: 2 * workersPerProcess };
  } finally {
    await stopAll(peers);
    await broker.stop();
  }
}

export const benchmark: Benchmark = {
  description: 'Majordomo echo through the mdbroker daemon, pipelined client, workers in their own processes',
  async run(ctx: BenchContext): Promise<BenchReport> {
    const version: MdpVersion = ctx.flags['mdp'] === '0.2' ? '0.2' : '0.1';
    const total = ctx.requests ?? 100_000;
    const window = ctx.window;
    const cases: Record<string, CaseResult> = {};
    const notes: string[] = [
      `MDP/${version}; ${total} requests per case, window ${window}; body [4-byte seq, "Hello world"]`,
      "book's C broker (its machine): 11.5k req/s with 1 worker, 25.9k with 10",
    ];

    // MDP gives a worker one request at a time, so with 1 worker every request is a sequential
    // broker<->worker round trip: the fair reference for that case is raw-echo with window 1.
    const sequential = Math.min(total, 20_000);
    ctx.log(`mdp: raw-echo with window 1 (sequential round trips), ${sequential} requests`);
    cases['raw-echo window 1'] = await measureRawEcho(sequential, 1);

    for (const workers of [1, 10]) {
      ctx.log(`mdp: ${workers} worker(s), ${total} requests`);
      cases[`mdp ${workers} worker${workers === 1 ? '' : 's'}`] = await withEchoWorkers(
        version,
        workers,
        ({ broker }) => measure(broker.endpoint, version, total, window, () => 'echo'),
      );
    }

    if (ctx.flags['memory'] !== undefined) {
      const memoryRequests = Number(ctx.flags['memory-requests'] ?? 1_000_000);
      ctx.log(`mdp: broker memory over ${memoryRequests} requests`);
      cases['mdp memory 1 worker'] = await withEchoWorkers(version, 1, async ({ broker }) => {
        // Settle the heap with a first 100k, then sample the broker's RSS after each fifth of the run.
        await measure(broker.endpoint, version, 100_000, window, () => 'echo');
        const rss: Record<string, number> = { rssStartKb: await broker.rssKb() };
        let last: CaseResult | undefined;
        let elapsedMs = 0;
        for (let part = 1; part <= 5; part++) {
          last = await measure(broker.endpoint, version, Math.ceil(memoryRequests / 5), window, () => 'echo');
          elapsedMs += last['elapsedMs'] ?? 0;
          rss[`rss${part * 20}pctKb`] = await broker.rssKb();
        }
        const result = last as CaseResult;
        const rps = Math.round((memoryRequests / elapsedMs) * 1000);
        return { ...result, rps, requests: memoryRequests, elapsedMs, ...rss };
      });
    }

    if (ctx.flags['scaling'] !== undefined) {
      const services = Number(ctx.flags['services'] ?? 1000);
      const workers = 2 * services;
      ctx.log(`mdp: scaling, ${services} services x 2 workers vs 1 service x ${workers} workers`);
      const single = await scalingCase(version, 1, services, total, window);
      const many = await scalingCase(version, services, services, total, window);
      cases[`mdp 1 service x ${workers} workers`] = single;
      cases[`mdp ${services} services x 2 workers`] = {
        ...many,
        vsSingle: Math.round((many.rps / single.rps) * 100) / 100,
      };
      notes.push(
        `scaling: the same ${workers} workers (2 processes) on 1 service and on ${services} services; ` +
          'target vsSingle >= 0.8 (within 20%)',
      );
    }
    return { cases, notes };
  },
};
