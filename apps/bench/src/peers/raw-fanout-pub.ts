/**
 * The clone bench's fan-out baseline: a bare zeromq.js XPUB in its own process (as clonesrv is)
 * that waits for `subscribers` subscriptions, then publishes `count` 5-frame messages shaped like
 * a KVPUB ([key, 8-byte sequence, 16-byte uuid, properties, body]). The first frame of the first
 * message carries the wall-clock start time (ms, float64) so the driver can time the whole fan-out.
 *
 *   node raw-fanout-pub.js <count> <subscribers> <bodyBytes>
 */
import * as zmq from 'zeromq';

const count = Number(process.argv[2] ?? 10_000);
const subscribers = Number(process.argv[3] ?? 100);
const body = Buffer.alloc(Number(process.argv[4] ?? 64), 0x61);
const pub = new zmq.XPublisher({ linger: 0, sendHighWaterMark: 0, verbosity: 'allSubs' });
await pub.bind('tcp://127.0.0.1:*');
process.stdout.write(`${JSON.stringify({ ready: true, endpoint: pub.lastEndpoint })}\n`);
const stop = (): void => pub.close();
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

let joined = 0;
while (joined < subscribers) {
  const [sub] = await pub.receive();
  if (sub?.[0] === 1) joined++;
}
const uuid = Buffer.alloc(16, 7);
const props = Buffer.alloc(0);
const start = Buffer.alloc(8);
start.writeDoubleBE(performance.timeOrigin + performance.now());
for (let i = 0; i < count; i++) {
  const seq = Buffer.alloc(8);
  seq.writeBigUInt64BE(BigInt(i + 1));
  const key = i === 0 ? start : Buffer.from(`/bench/${i % 1000}`);
  await pub.send([key, seq, uuid, props, body]);
}
// Stay up until the driver stops us: an idle zeromq socket does not keep node running, and
// exiting now would discard (linger 0) the tail of the fan-out still queued for slow subscribers.
const keepAlive = setInterval(() => undefined, 60_000);
process.once('SIGTERM', () => clearInterval(keepAlive));
process.once('SIGINT', () => clearInterval(keepAlive));
