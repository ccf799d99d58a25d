/**
 * The floor of the `clone` vs-c shapes: a Clone server in bare zeromq.js with none of our code, the
 * fewest binding calls the shape needs. It is a measuring stick, not a server: no validation, no
 * TTLs, no HUGZ, no pair, no resend detection, no journal.
 *
 * - collector SUB (P+2): each update gets the next sequence number (frame 1 rewritten), is stored
 *   in a Map by key, and is sent on as it came (same frames) on the publisher PUB (P+1);
 * - snapshot ROUTER (P): ICANHAZ? is answered with every stored update as KVSYNC and KTHXBAI
 *   (sequence = the last one), the 12/CHP snapshot, with no subtree filtering.
 *
 * Both high-water marks are unbounded, so a burst is queued, never dropped.
 *
 *   node bare-clonesrv.js [port=5556]
 */
import * as zmq from 'zeromq';

const port = Number(process.argv[2] ?? 5556);
const router = new zmq.Router({ linger: 0, sendHighWaterMark: 0 });
const publisher = new zmq.Publisher({ linger: 0, sendHighWaterMark: 0 });
const collector = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 0 });
collector.subscribe();
await router.bind(`tcp://127.0.0.1:${port}`);
await publisher.bind(`tcp://127.0.0.1:${port + 1}`);
await collector.bind(`tcp://127.0.0.1:${port + 2}`);
const stop = (): void => {
  router.close();
  publisher.close();
  collector.close();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

const store = new Map<string, Buffer[]>();
let sequence = 0n;
const seqFrame = (n: bigint): Buffer => {
  const frame = Buffer.allocUnsafe(8);
  frame.writeBigUInt64BE(n);
  return frame;
};

async function snapshots(): Promise<void> {
  const empty = Buffer.alloc(0);
  for await (const [identity] of router) {
    if (identity === undefined) continue;
    for (const frames of store.values()) await router.send([identity, ...frames]);
    await router.send([identity, 'KTHXBAI', seqFrame(sequence), empty, empty, empty]);
  }
}
void snapshots().catch(() => undefined);

for await (const frames of collector) {
  const [key] = frames;
  if (key === undefined || frames.length !== 5) continue;
  sequence += 1n;
  frames[1] = seqFrame(sequence);
  store.set(key.toString(), frames);
  await publisher.send(frames);
}
