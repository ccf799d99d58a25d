/**
 * The one driver of the `titanic` vs-c shape, the same for every contender: a sequential 9/TSP
 * client on bare zeromq.js (one DEALER speaking MDP/0.1 to the broker, none of our code), as the
 * book's `ticlient` is, without its sleeps.
 *
 *   node apps/bench/dist/peers/tsp-driver.js titanic <broker> <requests> [titanic pid]
 *   node apps/bench/dist/peers/tsp-driver.js mdp <broker> <requests>
 *
 * Both wait until the broker knows the services they use (mmi.service). `titanic`:
 *   1. submits every request (titanic.request ["echo", "Hello world"], one at a time, each
 *      waiting for its "200" + UUID): `submit_rate`, `submit_p50_us`/`submit_p99_us`;
 *   2. fetches every reply in submission order (titanic.reply [uuid]; on "300" it asks again
 *      after `POLL_MS`, 5 ms by default: the book's ticlient's polling, faster), then closes it
 *      (titanic.close [uuid]).
 * `rate` is requests over the whole (submit + fetch + close), `p50_us`/`p99_us` the time from a
 * request's submission to its reply fetched, `polls` the "300" answers, `torn` the "200" answers
 * whose body was not the echo (the C titanic reads a reply file while its dispatcher is still
 * writing it): those are asked again, like a "300". With a titanic pid, the
 * CPU that process spent over the measured part, per request (`cpu_us`). Before the measured
 * part, `WARMUP` requests (2,000 by default) go through the same three steps, unmeasured: every
 * contender is measured warm. V8 compiles a Node process's hot code on its helper threads over its
 * first several thousand requests; without a warm-up that one-time cost counted as 60-90 us per
 * request over a 2,000-request run of our Titanic, 10-20 us once warmed by as many.
 * With a titanic pid it also prints that process's CPU per request by thread (schedstat):
 * `main_us` (the event loop), `zmq_us` (libzmq's I/O thread), `helpers_us` (the rest: V8's
 * compiler and GC threads, libuv's pool).
 * `mdp`: the plain request ("echo", "Hello world") through the same broker and worker, one at a
 *   time: what Titanic's answer costs without Titanic (the latency floor of the shape).
 *
 * Any answer it does not expect (a "400", "500", a wrong echo, no answer in 10 s) ends it with
 * `replies` below `expected`, which fails the trial.
 */
import * as zmq from 'zeromq';
import { cpuUs, threadNs } from './proc-cpu.js';

const MDPC01 = Buffer.from('MDPC01');
const EMPTY = Buffer.alloc(0);
const HELLO = Buffer.from('Hello world');
const ECHO = Buffer.from('echo');
const TIMEOUT_MS = 10_000;
const POLL_MS = Number(process.env['POLL_MS'] ?? 5);
const WARMUP = Number(process.env['WARMUP'] ?? 2000);

const [mode, broker, count, pidArg] = process.argv.slice(2);
const n = Number(count);
if ((mode !== 'titanic' && mode !== 'mdp') || broker === undefined || !(n > 0)) {
  process.stderr.write('usage: tsp-driver.js titanic|mdp <broker> <requests> [titanic pid]\n');
  process.exit(2);
}

const socket = new zmq.Dealer({ linger: 0, receiveTimeout: TIMEOUT_MS });
socket.connect(broker);

/** One MDP/0.1 request and its reply's body (the frames after the service name). */
async function call(service: Buffer | string, body: readonly Buffer[]): Promise<Buffer[]> {
  await socket.send([EMPTY, MDPC01, service, ...body]);
  const reply = await socket.receive();
  return reply.slice(3);
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `count` requests submitted, then each fetched and closed, unmeasured; throws on any surprise. */
async function warmUp(count: number): Promise<void> {
  const uuids: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const [status, uuid] = await call('titanic.request', [ECHO, HELLO]);
    if (status?.toString() !== '200' || uuid === undefined) throw new Error(`warm-up submit: ${String(status)}`);
    uuids.push(uuid);
  }
  for (const uuid of uuids) {
    for (let polls = 0; ; polls++) {
      const [status, ...body] = await call('titanic.reply', [uuid]);
      if (status?.toString() === '200' && body[body.length - 1]?.equals(HELLO) === true) break;
      if (polls > 1000) throw new Error('warm-up fetch: no reply');
      await sleep(POLL_MS);
    }
    const [closed] = await call('titanic.close', [uuid]);
    if (closed?.toString() !== '200') throw new Error(`warm-up close: ${String(closed)}`);
  }
}
const us = (ms: number): string => (ms * 1000).toFixed(0);
let replies = 0;
const out: string[] = [];
try {
  const services = mode === 'mdp' ? ['echo'] : ['echo', 'titanic.request', 'titanic.reply', 'titanic.close'];
  for (const service of services) {
    for (let i = 0; ; i++) {
      const [status] = await call('mmi.service', [Buffer.from(service)]);
      if (status?.toString() === '200') break;
      if (i === 300) throw new Error(`${service} not registered after 15 s`);
      await sleep(50);
    }
  }
  if (mode === 'mdp') {
    const latency = new Float64Array(n);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const start = performance.now();
      const body = await call(ECHO, [HELLO]);
      latency[i] = performance.now() - start;
      if (body[0]?.equals(HELLO) === true) replies++;
    }
    const elapsed = performance.now() - t0;
    latency.sort();
    out.push(`rate=${((n / elapsed) * 1000).toFixed(1)}`, `p50_us=${us(percentile(latency, 50))}`);
    out.push(`p99_us=${us(percentile(latency, 99))}`);
  } else {
    const uuids: Buffer[] = [];
    const submitted = new Float64Array(n);
    const submitLatency = new Float64Array(n);
    const endToEnd = new Float64Array(n);
    let polls = 0;
    let torn = 0;
    await warmUp(WARMUP);
    const c0 = cpuUs(pidArg);
    const th0 = threadNs(pidArg);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      submitted[i] = performance.now();
      const [status, uuid] = await call('titanic.request', [ECHO, HELLO]);
      submitLatency[i] = performance.now() - (submitted[i] as number);
      if (status?.toString() !== '200' || uuid === undefined) throw new Error(`submit: ${String(status)}`);
      uuids.push(uuid);
    }
    const t1 = performance.now();
    for (let i = 0; i < n; i++) {
      const uuid = uuids[i] as Buffer;
      for (;;) {
        const [status, ...body] = await call('titanic.reply', [uuid]);
        const code = status?.toString();
        if (code === '200' && body[body.length - 1]?.equals(HELLO) === true) {
          endToEnd[i] = performance.now() - (submitted[i] as number);
          replies++;
          break;
        }
        // The C titanic can answer "200" from a reply file it is still writing (empty, or cut).
        if (code === '200') torn++;
        else if (code !== '300') throw new Error(`fetch: ${String(code)}`);
        else polls++;
        if (torn + polls > 100 * n) throw new Error('fetch: no complete reply after 100 x requests polls');
        await sleep(POLL_MS);
      }
      const [closed] = await call('titanic.close', [uuid]);
      if (closed?.toString() !== '200') throw new Error(`close: ${String(closed)}`);
    }
    const t2 = performance.now();
    const c1 = cpuUs(pidArg);
    const th1 = threadNs(pidArg);
    submitLatency.sort();
    endToEnd.sort();
    out.push(`rate=${((n / (t2 - t0)) * 1000).toFixed(1)}`, `submit_rate=${((n / (t1 - t0)) * 1000).toFixed(1)}`);
    out.push(`p50_us=${us(percentile(endToEnd, 50))}`, `p99_us=${us(percentile(endToEnd, 99))}`);
    out.push(`submit_p50_us=${us(percentile(submitLatency, 50))}`);
    out.push(`submit_p99_us=${us(percentile(submitLatency, 99))}`, `polls=${polls}`, `torn=${torn}`);
    if (pidArg !== undefined) {
      out.push(`cpu_us=${((c1 - c0) / n).toFixed(2)}`);
      const per = (ns: number): string => (ns / 1000 / n).toFixed(1);
      out.push(`main_us=${per(th1.main - th0.main)}`, `zmq_us=${per(th1.zmq - th0.zmq)}`);
      out.push(`helpers_us=${per(th1.helpers - th0.helpers)}`);
    }
  }
} catch (err) {
  process.stderr.write(`tsp-driver: ${err instanceof Error ? err.message : String(err)}\n`);
  out.push('rate=0');
}
socket.close();
process.stdout.write(`${out.join(' ')} replies=${replies} expected=${n}\n`);
