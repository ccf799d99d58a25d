/**
 * The driver of the `clone-snapshot` vs-c shape, the same for every contender: it fills the server
 * with `keys` distinct keys (a bare zeromq.js PUB into the collector, a bare SUB on the publisher
 * waiting until the last one is published), then asks for the whole map `rounds` times in turn
 * (a DEALER: ICANHAZ? with the empty subtree) and times each request from ICANHAZ? to KTHXBAI.
 * None of our code: only zeromq.js.
 *
 *   node clone-snapshot.js <snapshot> <publisher> <collector> <keys> <rounds> <server-pid>
 *
 * Prints `rate=<keys served per second> cpu_us=<server CPU per key served> replies=<keys received
 * in the snapshots> expected=<keys x rounds> snapshot_ms=<mean time of one snapshot>
 * rss_kb=<server's peak RSS>`.
 */
import { readFileSync } from 'node:fs';
import * as zmq from 'zeromq';

const [snapshotAt, publisherAt, collectorAt, keysArg, roundsArg, pidArg] = process.argv.slice(2);
if (snapshotAt === undefined || publisherAt === undefined || collectorAt === undefined || pidArg === undefined) {
  throw new Error('usage: clone-snapshot <snapshot> <publisher> <collector> <keys> <rounds> <server-pid>');
}
const keys = Number(keysArg);
const rounds = Number(roundsArg ?? 3);
const hz = 100;
const cpuUs = (): number => {
  const fields = readFileSync(`/proc/${pidArg}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) / hz) * 1e6;
};
const peakRssKb = (): number => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pidArg}/status`, 'utf8'))?.[1]);

const dealer = new zmq.Dealer({ linger: 0, receiveHighWaterMark: 0 });
dealer.connect(snapshotAt);
const sub = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 0 });
sub.subscribe();
sub.connect(publisherAt);
const pub = new zmq.Publisher({ linger: 0, sendHighWaterMark: 0 });
pub.connect(collectorAt);

/** One snapshot: how many KVSYNC came before KTHXBAI. */
async function snapshot(): Promise<number> {
  await dealer.send(['ICANHAZ?', '']);
  let count = 0;
  for (;;) {
    let key: Buffer | undefined;
    try {
      [key] = await dealer.receive();
    } catch (err) {
      if (dealer.receiveTimeout > 0 && count > 0) {
        process.stderr.write(`clone-snapshot: ${count} keys, then nothing for ${dealer.receiveTimeout} ms\n`);
        return -count;
      }
      throw err;
    }
    if (key?.length === 7 && key.toString() === 'KTHXBAI') return count;
    count++;
  }
}

/** Vote until the server answers (a Binary Star primary turns active on a client's request). */
async function vote(): Promise<void> {
  const deadline = Date.now() + 20_000;
  dealer.receiveTimeout = 500;
  for (;;) {
    try {
      await snapshot();
      dealer.receiveTimeout = 10_000;
      return;
    } catch {
      if (Date.now() > deadline) throw new Error('clone-snapshot: no snapshot from the server');
    }
  }
}

let serial = 0;
const zero = Buffer.alloc(8);
const empty = Buffer.alloc(0);
const body = Buffer.alloc(16, 0x61);
/** A fresh uuid per update: a server drops a uuid it has sequenced before as a resend. */
const update = (key: string): Buffer[] => {
  const uuid = Buffer.alloc(16, 0x5a);
  uuid.writeUInt32BE(++serial, 12);
  return [Buffer.from(key), zero, uuid, empty, body];
};

await vote();

// Fill: the warm-up key until it comes back (both links up), then every key; done when the last
// key has been published.
let warm = false;
let filled: () => void = () => undefined;
const full = new Promise<void>((resolve) => (filled = resolve));
const lastKey = `/snap/${keys - 1}`;
void (async () => {
  try {
    for await (const [key] of sub) {
      const k = key?.toString();
      if (k === 'warm') warm = true;
      else if (k === lastKey) filled();
    }
  } catch {
    // closed
  }
})();
while (!warm) {
  await pub.send(update('warm'));
  await new Promise((r) => setTimeout(r, 100));
}
for (let i = 0; i < keys; i++) await pub.send(update(`/snap/${i}`));
await full;
sub.close();
pub.close();
await new Promise((r) => setTimeout(r, 500)); // the server settles (a pair's passive, a journal)

const c0 = cpuUs();
const t0 = performance.now();
let received = 0;
let incomplete = false;
for (let r = 0; r < rounds && !incomplete; r++) {
  const got = await snapshot(); // negative: no KTHXBAI came (the server dropped part of it)
  incomplete = got < 0;
  received += Math.abs(got);
}
const ms = performance.now() - t0;
const cpu = cpuUs() - c0;
// The warm-up key is in the map too: count the burst's keys only.
const expected = keys * rounds;
const replies = incomplete ? received : Math.min(received - rounds, expected);
process.stdout.write(
  `rate=${((received / ms) * 1000).toFixed(1)} cpu_us=${(cpu / received).toFixed(3)} replies=${replies} ` +
    `expected=${expected} snapshot_ms=${(ms / rounds).toFixed(1)} rss_kb=${peakRssKb()}\n`,
);
dealer.close();
