/**
 * The clone bench's snapshot baseline: a bare zeromq.js ROUTER in its own process (as clonesrv is)
 * that answers any request with `count` 5-frame messages shaped like KVSYNC
 * ([key, 8-byte sequence, 16-byte uuid, properties, body]) and one final frame set, as the Clone
 * server answers ICANHAZ? with KVSYNC* and KTHXBAI.
 *
 *   node raw-snapshot-server.js <count> <bodyBytes>
 */
import * as zmq from 'zeromq';

const count = Number(process.argv[2] ?? 100_000);
const body = Buffer.alloc(Number(process.argv[3] ?? 64), 0x61);
const router = new zmq.Router({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
await router.bind('tcp://127.0.0.1:*');
process.stdout.write(`${JSON.stringify({ ready: true, endpoint: router.lastEndpoint })}\n`);
const stop = (): void => router.close();
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

const keys = Array.from({ length: count }, (_, i) => Buffer.from(`/bench/key/${i}`));
const uuid = Buffer.alloc(16, 7);
const props = Buffer.alloc(0);
for await (const [identity] of router) {
  if (identity === undefined) continue;
  for (let i = 0; i < count; i++) {
    const seq = Buffer.alloc(8);
    seq.writeBigUInt64BE(BigInt(i + 1));
    await router.send([identity, keys[i] as Buffer, seq, uuid, props, body]);
  }
  await router.send([identity, 'KTHXBAI', Buffer.alloc(8), Buffer.alloc(0), props, Buffer.alloc(0)]);
}
