/**
 * The driver of the `clone` vs-c shape, the same for every contender (the book's clonesrv6, ours,
 * the bare floor): a bare zeromq.js PUB sends a burst of `n` KVSET updates (12/CHP kvmsg, sequence
 * 0, a fresh 16-byte uuid, no properties, a 16-byte body) to the server's collector as fast as it can,
 * and a bare SUB on the server's publisher counts the updates that come back and the gaps in their
 * sequence numbers. None of our code: only zeromq.js.
 *
 *   node clone-burst.js <snapshot> <publisher> <collector> <n> <server-pid> [<peer-pid>]
 *
 * First it votes (ICANHAZ? on the snapshot port, until KTHXBAI: a Binary Star primary turns active
 * on a client's request) and warms up (one update, resent until the subscriber sees it, so both
 * links are up). Then the burst; it ends when the last update has come back or nothing came for
 * 3 s. With BURST_ON_SIGNAL set, it writes `warm` on stderr after the warm-up and waits for
 * SIGUSR1 before the burst (so a process under test can take its snapshot in between). It prints `rate=<updates/s, first send to last receipt> cpu_us=<server CPU per update>
 * replies=<updates seen in sequence, no gap before them> expected=<n> gaps=<missing sequence
 * numbers> rss_kb=<server's peak RSS>`, and the server's CPU per update by thread (from schedstat,
 * as the titanic shape does): `main_us` (its main thread: the event loop, our code or the
 * floor's), `zmq_us` (libzmq's I/O threads, ZMQbg/...), `helpers_us` (the rest: V8's compiler and
 * GC threads, libuv's pool). With a peer pid (the passive of a pair), `peer_us` is that process's
 * CPU per update (all threads).
 */
import { readFileSync } from 'node:fs';
import * as zmq from 'zeromq';
import { cpuUs, threadNs } from './proc-cpu.js';

const [snapshotAt, publisherAt, collectorAt, nArg, pidArg, peerPid] = process.argv.slice(2);
if (snapshotAt === undefined || publisherAt === undefined || collectorAt === undefined || pidArg === undefined) {
  throw new Error('usage: clone-burst <snapshot> <publisher> <collector> <n> <server-pid>');
}
const n = Number(nArg);
const totalNs = (pid: string): number => {
  const t = threadNs(pid);
  return t.main + t.zmq + t.helpers;
};
const peakRssKb = (): number => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pidArg}/status`, 'utf8'))?.[1]);

const dealer = new zmq.Dealer({ linger: 0 });
dealer.connect(snapshotAt);
const sub = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 0 });
sub.subscribe();
sub.connect(publisherAt);
const pub = new zmq.Publisher({ linger: 0, sendHighWaterMark: 0 });
pub.connect(collectorAt);

/** Vote until the server answers a snapshot request. */
async function vote(): Promise<void> {
  const deadline = Date.now() + 20_000;
  dealer.receiveTimeout = 500;
  for (;;) {
    await dealer.send(['ICANHAZ?', '']);
    try {
      for (;;) {
        const [key] = await dealer.receive();
        if (key?.toString() === 'KTHXBAI') return;
      }
    } catch {
      if (Date.now() > deadline) throw new Error('clone-burst: no snapshot from the server');
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
dealer.close();

let warm = false;
let first = -1n;
let next = -1n;
let seen = 0;
let inOrder = 0;
let gaps = 0;
let lastAt = 0;
let done: () => void = () => undefined;
const finished = new Promise<void>((resolve) => (done = resolve));
void (async () => {
  try {
    for await (const [key, seq] of sub) {
      if (key === undefined || seq === undefined) continue;
      const k = key.toString();
      if (k === 'warm') warm = true;
      if (k.charCodeAt(0) !== 0x2f) continue; // burst keys start with '/'
      const s = seq.readBigUInt64BE(0);
      if (first < 0n) first = next = s;
      if (s !== next) gaps += Number(s - next);
      else if (gaps === 0) inOrder++;
      next = s + 1n;
      seen++;
      lastAt = performance.now();
      if (seen === n) done();
    }
  } catch {
    // closed
  }
})();

const warmDeadline = Date.now() + 20_000;
while (!warm) {
  if (Date.now() > warmDeadline) throw new Error('clone-burst: the warm-up update never came back');
  await pub.send(update('warm'));
  await new Promise((r) => setTimeout(r, 100));
}
await new Promise((r) => setTimeout(r, 300));
if (process.env['BURST_ON_SIGNAL'] !== undefined) {
  // Another subscriber joins now (the clone-client shape): the burst waits for its SIGUSR1.
  process.stderr.write('warm\n');
  await new Promise((resolve) => process.once('SIGUSR1', resolve));
}

const c0 = cpuUs(pidArg);
const th0 = threadNs(pidArg);
const peer0 = peerPid === undefined ? 0 : totalNs(peerPid);
const t0 = performance.now();
for (let i = 0; i < n; i++) await pub.send(update(`/burst/${i % 1000}`));
const idle = setInterval(() => {
  if (performance.now() - Math.max(lastAt, t0) > 3000) done();
}, 200);
await finished;
clearInterval(idle);
const seconds = ((seen === n ? lastAt : performance.now()) - t0) / 1000;
const cpu = cpuUs(pidArg) - c0;
const th1 = threadNs(pidArg);
const peer1 = peerPid === undefined ? 0 : totalNs(peerPid);
const missing = n - seen;
const per = (ns: number): string => (ns / 1000 / n).toFixed(2);
const threads = `main_us=${per(th1.main - th0.main)} zmq_us=${per(th1.zmq - th0.zmq)} helpers_us=${per(th1.helpers - th0.helpers)}`;
const peer = peerPid === undefined ? '' : ` peer_us=${per(peer1 - peer0)}`;
process.stdout.write(
  `rate=${(n / seconds).toFixed(1)} cpu_us=${(cpu / n).toFixed(2)} replies=${inOrder} expected=${n} ` +
    `gaps=${gaps + missing} rss_kb=${peakRssKb()} ${threads}${peer}\n`,
);
sub.close();
pub.close();
