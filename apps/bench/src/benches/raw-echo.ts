/**
 * raw-echo: zeromq.js DEALER (this process) to ROUTER echo (its own process), pipelined. The
 * baseline: the round trips a broker-less zeromq.js pair manages on this machine, against which
 * every other benchmark's figures are printed as a ratio.
 */
import * as zmq from 'zeromq';
import { drivePipelined, readSeq, seqFrame } from '../lib/pipelined.js';
import { Peer, peerScript } from '../lib/peer.js';
import type { BenchContext, BenchReport, Benchmark, CaseResult } from '../lib/types.js';

const HELLO = Buffer.from('Hello world');

/** Measure `total` pipelined echo round trips against a fresh echo server process. */
export async function measureRawEcho(total: number, window: number): Promise<CaseResult> {
  const server = await Peer.start(peerScript('raw-echo-server'));
  const dealer = new zmq.Dealer({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
  try {
    dealer.connect(server.endpoint);
    // Warm up the connection (and the JIT) before timing.
    await dealer.send([seqFrame(0), HELLO]);
    await dealer.receive();
    async function* replies(): AsyncGenerator<number> {
      for await (const [seq] of dealer) yield readSeq(seq);
    }
    return await drivePipelined({
      total,
      window,
      send: (seq) => dealer.send([seqFrame(seq), HELLO]),
      replies: replies(),
    });
  } finally {
    dealer.close();
    await server.stop();
  }
}

export const benchmark: Benchmark = {
  description: 'zeromq.js DEALER -> ROUTER echo in separate processes, pipelined (the baseline)',
  async run(ctx: BenchContext): Promise<BenchReport> {
    const total = ctx.requests ?? 100_000;
    ctx.log(`raw-echo: ${total} round trips, window ${ctx.window}`);
    return { cases: { 'raw-echo': await measureRawEcho(total, ctx.window) } };
  },
};
