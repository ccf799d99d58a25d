/**
 * A timed sequential 7/MDP client: one request at a time to the `echo` service, each round trip
 * timed, with none of our code (one zeromq.js DEALER: one `send()` and one `receive()` per
 * request). It drives the `latency` shape of `vs-c`, where what is measured is the broker between
 * it and the book's C `mdworker`; the same client in front of every broker, so the differences are
 * the brokers'.
 *
 *   node apps/bench/dist/peers/md-latency-client.js <endpoint> <requests> [warmup]
 *
 * Sends `warmup` (default 500) untimed requests, then `requests` timed ones, and prints one line:
 * `rate=<timed requests/s> p50_us=<median round trip> p99_us=<99th percentile> mean_us=<mean>
 * replies=<answered> expected=<requests> total=<requests + warmup>`. A request unanswered within
 * 2.5 s ends the run (replies then falls short of expected, and the trial fails).
 */
import * as zmq from 'zeromq';

const endpoint = process.argv[2] ?? 'tcp://127.0.0.1:5555';
const requests = Number(process.argv[3] ?? 10_000);
const warmup = Number(process.argv[4] ?? 500);
const TIMEOUT_MS = 2500;

const EMPTY = Buffer.alloc(0);
const MDPC01 = Buffer.from('MDPC01');
const SERVICE = Buffer.from('echo');
const BODY = Buffer.from('Hello world');

const socket = new zmq.Dealer({ linger: 0, receiveTimeout: TIMEOUT_MS });
socket.connect(endpoint);

/** One round trip; false when no reply came in time (or it was not ours). */
async function roundTrip(): Promise<boolean> {
  await socket.send([EMPTY, MDPC01, SERVICE, BODY]);
  try {
    const reply = await socket.receive();
    return reply.length === 4 && reply[3]?.equals(BODY) === true;
  } catch {
    return false;
  }
}

const samples = new Float64Array(requests);
let replies = 0;
let ok = true;
for (let i = 0; i < warmup && ok; i++) ok = await roundTrip();
const started = process.hrtime.bigint();
for (let i = 0; i < requests && ok; i++) {
  const t0 = process.hrtime.bigint();
  ok = await roundTrip();
  if (!ok) break;
  samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
  replies++;
}
const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
socket.close();

const timed = samples.subarray(0, replies).sort();
const at = (q: number): number => timed[Math.min(timed.length - 1, Math.floor(q * timed.length))] ?? Number.NaN;
const mean = timed.reduce((a, b) => a + b, 0) / Math.max(1, timed.length);
process.stdout.write(
  `rate=${(replies / elapsedS).toFixed(1)} p50_us=${at(0.5).toFixed(1)} p99_us=${at(0.99).toFixed(1)} ` +
    `mean_us=${mean.toFixed(1)} replies=${replies} expected=${requests} total=${requests + warmup}\n`,
);
