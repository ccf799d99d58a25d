/**
 * The floor of the `clone-client` vs-c shape: a Clone client agent in bare zeromq.js with none of
 * our code, the fewest binding calls the shape needs. A measuring stick: no validation, no
 * resync, no TTLs, no writes. A SUB on the publisher (connected first, so nothing is missed), a
 * DEALER asking for the snapshot (ICANHAZ?, KVSYNC* into a Map, KTHXBAI), then every update with
 * a later sequence applied to the Map, gaps counted, until `n` updates are applied. Prints `ready`
 * once it holds the snapshot, then the same line as `clone-client-apply.ts`.
 *
 *   node bare-clone-apply.js <snapshot> <publisher> <collector> <n>
 */
import * as zmq from 'zeromq';

const [snapshot, publisher, , nArg] = process.argv.slice(2);
if (snapshot === undefined || publisher === undefined) {
  throw new Error('usage: bare-clone-apply <snapshot> <publisher> <collector> <n>');
}
const n = Number(nArg);
const map = new Map<string, Buffer>();
const sub = new zmq.Subscriber({ linger: 0 });
sub.subscribe();
sub.connect(publisher);
const dealer = new zmq.Dealer({ linger: 0 });
dealer.connect(snapshot);
await dealer.send(['ICANHAZ?', '']);
let sequence = 0n;
for (;;) {
  const [key, seq, , , body] = await dealer.receive();
  if (key === undefined || seq === undefined) continue;
  if (key.toString() === 'KTHXBAI') {
    sequence = seq.readBigUInt64BE(0);
    break;
  }
  map.set(key.toString(), body ?? Buffer.alloc(0));
}
dealer.close();
process.stdout.write('ready\n');

let applied = 0;
let gaps = 0;
let t0 = 0;
let cpu0: NodeJS.CpuUsage | undefined;
for await (const [key, seq, , , body] of sub) {
  if (key === undefined || seq === undefined || body === undefined) continue;
  const s = seq.readBigUInt64BE(0);
  if (s <= sequence) continue;
  if (s !== sequence + 1n) gaps++;
  sequence = s;
  if (body.length === 0) map.delete(key.toString());
  else map.set(key.toString(), body);
  if (applied++ === 0) {
    t0 = performance.now();
    cpu0 = process.cpuUsage();
  }
  if (applied === n) break;
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(
  `rate=${((applied / ms) * 1000).toFixed(1)} cpu_us=${((cpu.user + cpu.system) / applied).toFixed(2)} ` +
    `replies=${applied} expected=${n} gaps=${gaps} rss_kb=${process.resourceUsage().maxRSS}\n`,
);
sub.close();
