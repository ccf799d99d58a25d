/**
 * clone: Clone (12/CHP) through the `clonesrv` daemon (its own process), each case beside a raw
 * zeromq.js baseline of the same shape measured in the same run (`x same-shape` in the last column).
 *
 * Fan-out: one writer and `--subscribers` CloneClients (default 100) in this process, one server.
 *
 *   writer CloneClient --KVSET--> clonesrv (P+2) --KVPUB--> (P+1) --> 100 CloneClient SUBs
 *   baseline: raw XPUB (own process) --5-frame messages--> 100 raw SUBs (this process)
 *
 * Timed from the first commit to the moment the last subscriber has applied the last update (a
 * watch on the final key). The writer keeps `--window` commits in flight (default 100), so the
 * server is never flooded past its socket buffers; p50/p99 are the writer's commit round trips.
 *
 * Snapshot: a new CloneClient `start()` against a server holding `--keys` keys (default 100,000).
 *
 *   client DEALER --ICANHAZ?--> clonesrv ROUTER (P) --KVSYNC x 100k, KTHXBAI--> client
 *   baseline: raw DEALER --request--> raw ROUTER (own process) --100k 5-frame messages, end-->
 *
 * Flags: `--updates N` (or `--requests N`, default 1,000), `--subscribers N`, `--keys N`,
 * `--snapshots N` (repeats, default 2), `--body-bytes N` (default 64).
 */
import { CloneClient } from '@zpatterns/clone';
import { freePortRange } from '@zpatterns/testkit';
import * as zmq from 'zeromq';
import { appScript, Peer, peerScript } from '../lib/peer.js';
import { Latencies } from '../lib/stats.js';
import type { BenchContext, BenchReport, Benchmark, CaseResult } from '../lib/types.js';

const END_KEY = '/bench-end';

function intFrom(ctx: BenchContext, name: string, fallback: number): number {
  const raw = ctx.flags[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`--${name} must be a positive whole number, got ${String(raw)}`);
  return n;
}

/** clonesrv on three consecutive free ports; a fresh range if it loses a port race. */
async function startClonesrv(): Promise<{ peer: Peer; address: string }> {
  let last: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const base = await freePortRange(3);
    try {
      const peer = await Peer.start(appScript('clonesrv'), ['--port', String(base), '--log-level', 'info']);
      return { peer, address: `tcp://127.0.0.1:${base}` };
    } catch (err) {
      last = err;
    }
  }
  throw new Error('clonesrv did not start on any of 5 port ranges', { cause: last });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? Number.NaN;
};
const round3 = (n: number): number => Math.round(n * 1000) / 1000;

async function cloneFanout(
  address: string,
  updates: number,
  subscribers: number,
  window: number,
  body: Buffer,
): Promise<CaseResult> {
  const clients = Array.from({ length: subscribers }, () => new CloneClient({ servers: [address] }));
  const writer = new CloneClient({ servers: [address] });
  try {
    await Promise.all([writer, ...clients].map((c) => c.start()));
    // Each subscriber signals when the final key reaches it: an event, not a poll.
    // (Calling next() runs the generator up to its first wait, so each watcher is registered
    // before the first commit.)
    const done = clients.map(async (c) => {
      const changes = c.watch(END_KEY);
      const first = await changes.next();
      const at = performance.now();
      await changes.return(undefined);
      if (first.done === true) throw new Error('watch ended before the final update');
      return at;
    });
    const latencies = new Latencies(updates);
    const started = performance.now();
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < updates) {
        const i = next++;
        const key = i === updates - 1 ? END_KEY : `/bench/${i % 1000}`;
        const t = performance.now();
        await writer.commit(key, body);
        latencies.record(performance.now() - t);
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, updates) }, lane));
    const finished = Math.max(...(await Promise.all(done)));
    const elapsedMs = finished - started;
    const gaps = clients.reduce((n, c) => n + c.stats.gaps + c.stats.snapshots - 1, 0);
    return {
      rps: Math.round((updates / elapsedMs) * 1000),
      p50Ms: round3(latencies.percentile(50)),
      p99Ms: round3(latencies.percentile(99)),
      updates,
      subscribers,
      elapsedMs: Math.round(elapsedMs),
      deliveriesPerSec: Math.round(((updates * subscribers) / elapsedMs) * 1000),
      resyncs: gaps,
    };
  } finally {
    await Promise.all([writer, ...clients].map((c) => c.close()));
  }
}

async function rawFanout(updates: number, subscribers: number, bodyBytes: number): Promise<CaseResult> {
  const pub = await Peer.start(peerScript('raw-fanout-pub'), [String(updates), String(subscribers), String(bodyBytes)]);
  const subs = Array.from({ length: subscribers }, () => new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 0 }));
  try {
    let startedAt = Number.NaN;
    const done = subs.map(async (sub) => {
      sub.connect(pub.endpoint);
      sub.subscribe();
      let seen = 0;
      for await (const frames of sub) {
        if (seen === 0 && frames[0]?.length === 8) startedAt = frames[0].readDoubleBE(0);
        if (++seen === updates) return performance.timeOrigin + performance.now();
      }
      throw new Error('raw SUB closed early');
    });
    const finished = Math.max(...(await Promise.all(done)));
    const elapsedMs = finished - startedAt;
    return {
      rps: Math.round((updates / elapsedMs) * 1000),
      p50Ms: Number.NaN,
      p99Ms: Number.NaN,
      updates,
      subscribers,
      elapsedMs: Math.round(elapsedMs),
      deliveriesPerSec: Math.round(((updates * subscribers) / elapsedMs) * 1000),
    };
  } finally {
    for (const s of subs) s.close();
    await pub.stop();
  }
}

/**
 * Fill the server with `keys` keys under /fill/: batches of fire-and-forget set(), each closed by
 * a commit() of a /fill-mark/ key (flow control: at most one batch in flight, below the sockets'
 * high-water marks). The writer follows only /fill-mark/, so the server's PUB filters the 100k
 * /fill/ updates out before they reach it.
 */
async function fill(address: string, keys: number, body: Buffer, ctx: BenchContext): Promise<number> {
  const writer = new CloneClient({ servers: [address], subtrees: ['/fill-mark/'], timeoutMs: 10_000 });
  let retries = 0;
  try {
    await writer.start();
    const batch = 500;
    for (let i = 0; i < keys; i += batch) {
      const end = Math.min(keys, i + batch);
      for (let attempt = 1; ; attempt++) {
        for (let k = i; k < end; k++) writer.set(`/fill/${k}`, body);
        try {
          await writer.commit(`/fill-mark/${i}`, 'x');
          break;
        } catch (err) {
          // The batch is idempotent (same keys, same values): send it again.
          if (attempt >= 3) throw err;
          retries++;
          ctx.log(
            `clone: fill batch at ${i}: ${(err as Error).message}; resending (writer ${JSON.stringify(writer.stats)})`,
          );
        }
      }
    }
  } finally {
    await writer.close();
  }
  return retries;
}

async function cloneSnapshot(address: string, keys: number, repeats: number): Promise<CaseResult> {
  const times: number[] = [];
  let fewest = keys;
  for (let r = 0; r < repeats; r++) {
    const client = new CloneClient({ servers: [address], subtrees: ['/fill/'] });
    try {
      const t = performance.now();
      await client.start();
      times.push(performance.now() - t);
      fewest = Math.min(fewest, client.size);
    } finally {
      await client.close();
    }
  }
  // Not thrown: a snapshot that lost entries is a finding to print, not a reason to stop.
  return { ...snapshotResult(keys, times), keysMissing: keys - fewest };
}

async function rawSnapshot(keys: number, repeats: number, bodyBytes: number): Promise<CaseResult> {
  const server = await Peer.start(peerScript('raw-snapshot-server'), [String(keys), String(bodyBytes)]);
  const times: number[] = [];
  try {
    for (let r = 0; r < repeats; r++) {
      const dealer = new zmq.Dealer({ linger: 0, receiveHighWaterMark: 0 });
      try {
        dealer.connect(server.endpoint);
        const t = performance.now();
        await dealer.send(['ICANHAZ?', '/fill/']);
        let seen = 0;
        for await (const [key] of dealer) {
          if (key?.toString() === 'KTHXBAI') break;
          seen++;
        }
        times.push(performance.now() - t);
        if (seen !== keys) throw new Error(`raw snapshot carried ${seen} messages, expected ${keys}`);
      } finally {
        dealer.close();
      }
    }
  } finally {
    await server.stop();
  }
  return snapshotResult(keys, times);
}

function snapshotResult(keys: number, times: number[]): CaseResult {
  const p50 = median(times);
  return {
    rps: Math.round((keys / p50) * 1000),
    p50Ms: Math.round(p50),
    p99Ms: Math.round(Math.max(...times)),
    keys,
    runs: times.length,
  };
}

export const benchmark: Benchmark = {
  description:
    'Clone (12/CHP): CloneClients in this process, clonesrv in its own; fan-out of one writer to N subscribers, and a 100k-key snapshot',
  async run(ctx: BenchContext): Promise<BenchReport> {
    const updates = intFrom(ctx, 'updates', ctx.requests ?? 1000);
    const subscribers = intFrom(ctx, 'subscribers', 100);
    const keys = intFrom(ctx, 'keys', 100_000);
    const repeats = intFrom(ctx, 'snapshots', 2);
    const bodyBytes = intFrom(ctx, 'body-bytes', 64);
    const body = Buffer.alloc(bodyBytes, 0x61);
    const cases: Record<string, CaseResult> = {};

    ctx.log(`clone: raw PUB -> ${subscribers} SUB fan-out, ${updates} 5-frame messages`);
    const rawFan = await rawFanout(updates, subscribers, bodyBytes);
    cases[`raw pub -> ${subscribers} sub (same shape)`] = rawFan;
    ctx.log(`clone: raw ROUTER -> DEALER, ${keys} 5-frame messages x ${repeats}`);
    const rawSnap = await rawSnapshot(keys, repeats, bodyBytes);
    cases[`raw router -> dealer ${keys} msgs (same shape)`] = rawSnap;

    const { peer, address } = await startClonesrv();
    try {
      ctx.log(`clone: 1 writer (window ${ctx.window}) -> clonesrv -> ${subscribers} CloneClients, ${updates} updates`);
      const fan = await cloneFanout(address, updates, subscribers, ctx.window, body);
      cases[`clone 1 writer -> ${subscribers} subscribers`] = { ...fan, xSameShape: round3(fan.rps / rawFan.rps) };
      ctx.log(`clone: filling clonesrv with ${keys} keys`);
      const filling = performance.now();
      const fillRetries = await fill(address, keys, body, ctx);
      ctx.log(
        `clone: filled in ${Math.round(performance.now() - filling)} ms (${fillRetries} batches resent); snapshot x ${repeats}`,
      );
      const snap = await cloneSnapshot(address, keys, repeats);
      cases[`clone snapshot ${keys} keys`] = { ...snap, xSameShape: round3(snap.rps / rawSnap.rps) };
    } finally {
      await peer.stop();
    }
    return {
      cases,
      notes: [
        `fan-out: req/s is updates/s until the last of ${subscribers} subscribers applied the last one; p50/p99 ms are the writer's commit round trips (window ${ctx.window})`,
        `snapshot: req/s is keys/s of the median of ${repeats} runs; p50 ms is that median (the faster run of two), p99 ms the slowest run`,
        `xSameShape: the case's rate over its raw zeromq.js baseline of the same shape in this run; bodies ${bodyBytes} bytes`,
      ],
    };
  },
};
