/**
 * freelance: the book's model three (flclient3 -> flserver3 x 3), a FreelanceClient in this
 * process and three `flserver` echo daemons, each in its own process:
 *
 *   bench process                        flserver process x 3 (routing id = endpoint)
 *   FreelanceClient ROUTER --[S][id][seq]["Hello world"]--> ROUTER --[id][seq]["Hello world"]-->
 *
 * Cases: `raw-echo window 1` (sequential round trips, the fair reference for latency),
 * `freelance window 1` (one request in flight, priority: every request to the first server;
 * 20k by default), `freelance window N round-robin` and `freelance window N priority` (N = `--window`,
 * default 100, spread over the three servers or all to the first; 100k by default, `--requests`).
 *
 * The book's flclient3 (C, flcliapi agent thread) took 144 to 256 us per sequential request on
 * this class of machine.
 */
import { AsyncQueue } from '@zpatterns/core/internal';
import { FreelanceClient, type FreelanceStrategy } from '@zpatterns/freelance';
import { drivePipelined, readSeq, seqFrame } from '../lib/pipelined.js';
import { appScript, Peer, stopAll } from '../lib/peer.js';
import { measureRawEcho } from './raw-echo.js';
import type { BenchContext, BenchReport, Benchmark, CaseResult } from '../lib/types.js';

const HELLO = Buffer.from('Hello world');

async function measure(
  endpoints: string[],
  strategy: FreelanceStrategy,
  total: number,
  window: number,
): Promise<CaseResult> {
  const client = await FreelanceClient.start({
    servers: endpoints,
    strategy,
    timeoutMs: 60_000,
    attemptTimeoutMs: 30_000,
  });
  try {
    // Warm-up: every server connected (first PONG), then JIT and connections on a few thousand.
    for (let i = 0; i < 600 && !client.servers.every((s) => s.alive); i++) await new Promise((r) => setTimeout(r, 50));
    if (!client.servers.every((s) => s.alive)) throw new Error('servers did not all answer PING within 30 s');
    for (let i = 0; i < 2000; i++) await client.request([seqFrame(0), HELLO]);
    const replies = new AsyncQueue<number>();
    const before = client.servers.map((s) => s.replies);
    const result = await drivePipelined({
      total,
      window,
      send: (seq) => {
        void client.request([seqFrame(seq), HELLO]).then(
          (reply) => replies.push(readSeq(reply[0])),
          (err: unknown) => replies.end(err as Error),
        );
      },
      replies,
    });
    const spread = client.servers.map((s, i) => s.replies - (before[i] ?? 0));
    return {
      ...result,
      usPerRequest: Math.round(((result['elapsedMs'] ?? 0) * 1000) / total),
      server1: spread[0] ?? 0,
      server2: spread[1] ?? 0,
      server3: spread[2] ?? 0,
      resends: client.stats.retries,
    };
  } finally {
    await client.close();
  }
}

export const benchmark: Benchmark = {
  description: 'Freelance (10/FLP): FreelanceClient -> 3 flserver echo daemons, each in its own process',
  async run(ctx: BenchContext): Promise<BenchReport> {
    const total = ctx.requests ?? 100_000;
    const sequential = Math.min(total, 20_000);
    const window = ctx.window;
    const cases: Record<string, CaseResult> = {};
    ctx.log(`freelance: raw-echo with window 1 (sequential round trips), ${sequential} requests`);
    cases['raw-echo window 1'] = await measureRawEcho(sequential, 1);
    const servers = await Promise.all(
      [0, 1, 2].map(() => Peer.start(appScript('flserver'), ['--bind', 'tcp://127.0.0.1:*', '--log-level', 'info'])),
    );
    try {
      const endpoints = servers.map((s) => s.endpoint);
      ctx.log(`freelance: window 1 (latency), ${sequential} requests`);
      cases['freelance window 1'] = await measure(endpoints, 'priority', sequential, 1);
      ctx.log(`freelance: window ${window}, round-robin over 3 servers, ${total} requests`);
      cases[`freelance window ${window} round-robin`] = await measure(endpoints, 'round-robin', total, window);
      ctx.log(`freelance: window ${window}, priority (first server), ${total} requests`);
      cases[`freelance window ${window} priority`] = await measure(endpoints, 'priority', total, window);
    } finally {
      await stopAll(servers);
    }
    return {
      cases,
      notes: [
        `${sequential} sequential requests, ${total} pipelined per case; body [4-byte seq, "Hello world"]`,
        "book's flclient3 (C): 144 to 256 us per sequential request on this class of machine",
        'compare `freelance window 1` with `raw-echo window 1`, the pipelined cases with the raw-echo baseline',
      ],
    };
  },
};
