/**
 * The pipelined driver every request/reply benchmark uses: keep `window` requests in flight,
 * time each round trip, and report throughput and latency percentiles.
 *
 *   driver --send(seq)--> system under test --reply(seq)--> driver
 *
 * `send(seq)` issues request number `seq`; the benchmark's reply stream yields the `seq` carried
 * back in each reply (bodies carry their sequence number, so out-of-order replies are timed right).
 */
import { Latencies } from './stats.js';
import type { CaseResult } from './types.js';

export interface PipelinedOptions {
  total: number;
  window: number;
  /** Issue request `seq`. May return a promise (awaited before the next send: back-pressure). */
  send(seq: number): void | Promise<void>;
  /** The sequence numbers of replies as they arrive; must yield `total` values. */
  replies: AsyncIterable<number>;
}

export async function drivePipelined(options: PipelinedOptions): Promise<CaseResult> {
  const { total, window } = options;
  const sentAt = new Float64Array(total);
  const latencies = new Latencies(total);
  let received = 0;
  let wake: (() => void) | undefined;
  const started = performance.now();
  const receiving = (async () => {
    for await (const seq of options.replies) {
      latencies.record(performance.now() - (sentAt[seq] as number));
      received++;
      if (wake !== undefined) {
        const w = wake;
        wake = undefined;
        w();
      }
      if (received === total) break;
    }
  })();
  for (let seq = 0; seq < total; seq++) {
    while (seq - received >= window) {
      await new Promise<void>((resolve) => (wake = resolve));
    }
    sentAt[seq] = performance.now();
    const pending = options.send(seq);
    if (pending !== undefined) await pending;
  }
  await receiving;
  const elapsedMs = performance.now() - started;
  return {
    rps: Math.round((total / elapsedMs) * 1000),
    p50Ms: round(latencies.percentile(50)),
    p99Ms: round(latencies.percentile(99)),
    requests: total,
    elapsedMs: Math.round(elapsedMs),
  };
}

/** A 4-byte big-endian sequence frame, and its reader. */
export function seqFrame(seq: number): Buffer {
  const frame = Buffer.allocUnsafe(4);
  frame.writeUInt32BE(seq, 0);
  return frame;
}

export function readSeq(frame: Buffer | undefined): number {
  if (frame === undefined || frame.length !== 4) throw new Error('reply without a 4-byte sequence frame');
  return frame.readUInt32BE(0);
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
