/**
 * Pipelined client for the `ppqueue` vs-c shape, the same for every queue: one bare zeromq.js
 * DEALER (a REQ's envelope, `[""][body]`, without REQ's one-at-a-time rule) keeping `--window`
 * requests in flight and timing each. The book's `lpclient` sends one at a time and exits on the
 * first loss, so it cannot load a queue. Prints
 * `rate=<replies/s> replies=<n> expected=<n> p50_us=<us> p99_us=<us>` and exits 1 when a reply
 * is missing after `--timeout-ms` without progress.
 *
 *   node pp-driver.js [--queue tcp://localhost:5555] [--requests 50000] [--window 100]
 */
import { parseArgs } from 'node:util';
import * as zmq from 'zeromq';

const { values } = parseArgs({
  options: {
    queue: { type: 'string', default: 'tcp://localhost:5555' },
    requests: { type: 'string', default: '50000' },
    window: { type: 'string', default: '100' },
    'timeout-ms': { type: 'string', default: '10000' },
  },
});
const total = Number(values.requests);
const window = Math.min(Number(values.window), total);
const EMPTY = Buffer.alloc(0);
const sentAt = new Float64Array(total);
const latency = new Float64Array(total);
const socket = new zmq.Dealer({ linger: 0 });
socket.connect(values.queue);

let sent = 0;
let replies = 0;
let lastProgress = Date.now();
const send = (): Promise<void> => {
  const seq = sent++;
  sentAt[seq] = performance.now();
  return socket.send([EMPTY, Buffer.from(String(seq), 'latin1')]);
};

const watchdog = setInterval(() => {
  if (Date.now() - lastProgress > Number(values['timeout-ms'])) {
    process.stdout.write(`replies=${replies} expected=${total}\n`);
    process.stderr.write(`pp-driver: no reply for ${values['timeout-ms']} ms, ${replies}/${total} answered\n`);
    process.exit(1);
  }
}, 500);

const t0 = performance.now();
for (let i = 0; i < window; i++) await send();
while (replies < total) {
  const [, body] = await socket.receive();
  const now = performance.now();
  const seq = Number((body as Buffer).toString('latin1'));
  latency[replies++] = now - (sentAt[seq] as number);
  lastProgress = Date.now();
  if (sent < total) await send();
}
const elapsed = (performance.now() - t0) / 1000;
clearInterval(watchdog);
socket.close();
latency.sort();
const pct = (p: number): number => (latency[Math.min(total - 1, Math.floor(total * p))] as number) * 1000;
process.stdout.write(
  `rate=${(total / elapsed).toFixed(1)} replies=${replies} expected=${total} p50_us=${pct(0.5).toFixed(0)} p99_us=${pct(0.99).toFixed(0)}\n`,
);
