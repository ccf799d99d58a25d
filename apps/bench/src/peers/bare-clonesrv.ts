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
 * For a reproduction, `FLOOR_ADDS` (comma-separated) adds one piece of the per-update work our
 * server does and the floor skips, written here in bare code, so that a run alternating ours, the
 * floor and the floor with that piece shows what the piece costs:
 * - `decode`: the kvmsg checked and decoded as the server does (uuid and sequence sizes, key as a
 *   string, properties into a Map, reserved keys refused);
 * - `uuid`: duplicate detection, each UUID remembered (the last 100,000, as latin1 strings in a
 *   `Set`: the server's way before it kept their bytes in a ring) and a resent one dropped;
 * - `encode`: the published frames made afresh (key, sequence, properties) instead of reusing
 *   the ones received;
 * - `channel`: the collector read and the publisher written through core's `Channel`, as the
 *   server does (its receive loop calling a handler; `post()` on a `sendTimeout: 0` PUB with
 *   `directSend`).
 *
 *   node bare-clonesrv.js [port=5556]
 */
import * as zmq from 'zeromq';

const port = Number(process.argv[2] ?? 5556);
const router = new zmq.Router({ linger: 0, sendHighWaterMark: 0 });
const adds = new Set((process.env['FLOOR_ADDS'] ?? '').split(',').filter((a) => a !== ''));
const publisher = new zmq.Publisher({ linger: 0, sendHighWaterMark: 0, sendTimeout: adds.has('channel') ? 0 : -1 });
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

const decode = adds.has('decode');
const uuids = adds.has('uuid') ? new Set<string>() : undefined;
const ring: string[] = [];
let next = 0;
const encode = adds.has('encode');
const RESERVED = new Set(['HUGZ', 'KTHXBAI', 'ICANHAZ?']);

/** `decode`: what the server checks and builds per update (kvmsg.ts), or undefined to drop it. */
function decoded(frames: Buffer[]): { key: string; props: Map<string, string> } | undefined {
  const [key, seq, uuid, props] = frames as [Buffer, Buffer, Buffer, Buffer, Buffer];
  if (key.length === 0 || seq.length !== 8 || (uuid.length !== 0 && uuid.length !== 16)) return undefined;
  const map = new Map<string, string>();
  if (props.length > 0) {
    const lines = props.toString('utf8').split('\n');
    lines.pop();
    for (const line of lines) {
      const eq = line.indexOf('=');
      if (eq <= 0) return undefined;
      map.set(line.slice(0, eq), line.slice(eq + 1));
    }
  }
  const k = key.toString('utf8');
  return RESERVED.has(k) ? undefined : { key: k, props: map };
}

/** `uuid`: drop an update whose UUID was sequenced (remembered, or still its key's value). */
function resent(frames: Buffer[], uuids: Set<string>): boolean {
  const [key, , uuid] = frames as [Buffer, Buffer, Buffer];
  if (uuid.length === 0) return false;
  const id = uuid.toString('latin1');
  if (uuids.has(id)) return true;
  const current = store.get(key.toString())?.[2];
  if (current !== undefined && current.equals(uuid)) return true;
  // the last 100,000 remembered in a ring of strings
  const oldest = ring[next];
  if (oldest !== undefined) uuids.delete(oldest);
  ring[next] = id;
  uuids.add(id);
  next = next + 1 === 100_000 ? 0 : next + 1;
  return false;
}

/** One update: sequenced, stored and returned to publish, or undefined to drop it. */
function sequenced(frames: Buffer[]): Buffer[] | undefined {
  const [key] = frames;
  if (key === undefined || frames.length !== 5) return undefined;
  if (decode && decoded(frames) === undefined) return undefined;
  if (uuids !== undefined && resent(frames, uuids)) return undefined;
  sequence += 1n;
  frames[1] = seqFrame(sequence);
  if (encode) {
    frames[0] = Buffer.from(key.toString('utf8'), 'utf8');
    frames[3] = Buffer.from(frames[3]?.toString('utf8') ?? '', 'utf8');
  }
  store.set(key.toString(), frames);
  return frames;
}

if (adds.has('channel')) {
  const { Channel } = await import('@zpatterns/core/internal'); // only then: the floor loads none of our code
  const out = new Channel(publisher, { directSend: true });
  await new Channel(collector).start((frames) => {
    const update = sequenced(frames);
    if (update !== undefined) out.post(update);
  });
} else {
  for await (const frames of collector) {
    const update = sequenced(frames);
    if (update !== undefined) await publisher.send(update);
  }
}
