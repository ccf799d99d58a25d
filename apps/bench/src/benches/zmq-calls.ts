/**
 * zmq-calls: what one zeromq.js `send()` and `receive()` cost on the JavaScript thread, with none
 * of our code. A PUSH and a PULL in this process over inproc:// (no I/O thread, no kernel socket),
 * no high-water marks: first N sends of a k-frame message (each awaited, `sendTimeout: 0`), then N
 * awaited receives of them. CPU time (user+sys of this process) per call, for 1, 5 and 7 frames of
 * 12 bytes, and the same for what a call is made of in plain JavaScript (an awaited settled
 * promise, a new unpooled Buffer per frame, the frame array).
 *
 * The last case adds up the calls a Majordomo broker must make per request (receive 5 + 7 frames,
 * send 7 + 5 frames): the binding's share of the broker's floor, before libzmq's pipes to the I/O
 * thread, the kernel and event-loop wake-ups.
 */
import { cpuUsage } from 'node:process';
import * as zmq from 'zeromq';
import type { BenchContext, BenchReport, Benchmark, CaseResult } from '../lib/types.js';

const FRAME = Buffer.from('Hello world!');

function frames(k: number): Buffer[] {
  return Array.from({ length: k }, () => FRAME);
}

/** CPU microseconds (user+sys) and wall microseconds of `body`, per call. */
async function timed(calls: number, body: () => Promise<void>): Promise<{ cpuUs: number; wallUs: number }> {
  const c0 = cpuUsage();
  const t0 = process.hrtime.bigint();
  await body();
  const wallNs = Number(process.hrtime.bigint() - t0);
  const c = cpuUsage(c0);
  return { cpuUs: (c.user + c.system) / calls, wallUs: wallNs / 1000 / calls };
}

async function sendReceive(calls: number, k: number): Promise<{ send: number; receive: number }> {
  const endpoint = `inproc://zmq-calls-${k}-${process.hrtime.bigint()}`;
  const pull = new zmq.Pull({ linger: 0, receiveHighWaterMark: 0 });
  const push = new zmq.Push({ linger: 0, sendHighWaterMark: 0, sendTimeout: 0 });
  try {
    await pull.bind(endpoint);
    push.connect(endpoint);
    const message = frames(k);
    const send = await timed(calls, async () => {
      for (let i = 0; i < calls; i++) await push.send(message);
    });
    let got = 0;
    const receive = await timed(calls, async () => {
      for (let i = 0; i < calls; i++) got += (await pull.receive()).length;
    });
    if (got !== calls * k) throw new Error(`zmq-calls: received ${got} frames of ${calls * k}`);
    return { send: send.cpuUs, receive: receive.cpuUs };
  } finally {
    push.close();
    pull.close();
  }
}

const sink: unknown[] = [];

export const benchmark: Benchmark = {
  description: 'CPU per zeromq.js send() and receive() call (inproc, one process), and what a call is made of',
  async run(ctx: BenchContext): Promise<BenchReport> {
    const calls = ctx.requests ?? 200_000;
    const cases: Record<string, CaseResult> = {};
    const row = (us: number): CaseResult => ({ rps: 1e6 / us, p50Ms: Number.NaN, p99Ms: Number.NaN, cpuUsPerCall: us });
    // Warm-up (JIT, allocator), not reported.
    await sendReceive(Math.min(calls, 20_000), 7);
    const per: Record<number, { send: number; receive: number }> = {};
    for (const k of [1, 5, 7]) {
      ctx.log(`zmq-calls: ${calls} sends and receives of ${k} frame(s)`);
      per[k] = await sendReceive(calls, k);
      cases[`send(), ${k} frame(s)`] = row(per[k].send);
      cases[`receive(), ${k} frame(s)`] = row(per[k].receive);
    }
    // The parts of a call, in plain JavaScript.
    const settled = Promise.resolve();
    const awaited = await timed(calls, async () => {
      for (let i = 0; i < calls; i++) await settled;
    });
    cases['await of a settled promise'] = row(awaited.cpuUs);
    const perFrame = await timed(calls, () => {
      for (let i = 0; i < calls; i++) {
        const b = Buffer.allocUnsafeSlow(FRAME.length);
        FRAME.copy(b);
        sink[i & 1023] = b;
      }
      return Promise.resolve();
    });
    cases['new unpooled 12-byte Buffer + copy'] = row(perFrame.cpuUs);
    const arrays = await timed(calls, () => {
      for (let i = 0; i < calls; i++) sink[i & 1023] = [FRAME, FRAME, FRAME, FRAME, FRAME, FRAME, FRAME];
      return Promise.resolve();
    });
    cases['a 7-element frame array'] = row(arrays.cpuUs);
    sink.length = 0;
    const p5 = per[5] as { send: number; receive: number };
    const p7 = per[7] as { send: number; receive: number };
    const broker = p5.receive + p7.receive + p7.send + p5.send;
    cases['one broker request: receive 5+7, send 7+5 frames'] = row(broker);
    const p1 = per[1] as { send: number; receive: number };
    return {
      cases,
      notes: [
        'rps is calls per CPU second (1e6 / cpuUsPerCall); cpuUsPerCall is user+sys CPU of this process per call',
        `per extra frame: send ${((p7.send - p1.send) / 6).toFixed(2)} us, receive ${((p7.receive - p1.receive) / 6).toFixed(2)} us; per call with one frame: send ${p1.send.toFixed(2)} us, receive ${p1.receive.toFixed(2)} us`,
        'inproc: no I/O thread and no kernel socket; a broker over TCP adds libzmq pipes to its I/O thread, syscalls and event-loop wake-ups',
      ],
    };
  },
};
