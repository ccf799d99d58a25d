/**
 * One trial of the `titanic-scale` vs-c shape: our `titanic` on a SQLite store that already holds
 * `stored` requests, measured by a sequential bare zeromq.js TSP client.
 *
 *   node apps/bench/dist/peers/titanic-scale-trial.js <data dir> <stored> <requests>
 *
 * 1. Fill: the store (opened by its own API, `SqliteStore.write`, in transactions of 10,000) is
 *    brought up to `stored` requests: half pending for a service no worker serves ("parked"), half
 *    answered and never closed ("done"), alternately. A trial at a higher level reuses the
 *    directory of the previous one and adds only the difference.
 * 2. The daemon starts on it (`titanic --with-broker`, its own broker, backlog limits lifted so the
 *    parked requests do not refuse new ones); `start_ms` is until its ready line.
 * 3. `requests` sequential submissions of ["echo", seq] (their round trip: `submit_p50_us`,
 *    `submit_p99_us`), served by one bare MDP/0.1 echo worker in this process, which notes when
 *    each arrives (`claim_p50_us`/`claim_p99_us`: from submission sent to the request at the
 *    worker: the dispatcher taking it from the store); then each reply fetched (`fetch_*`: the
 *    round trip of the titanic.reply that answers "200") and closed (`close_*`).
 *
 * Prints `rate` (requests over 3.), `rss_kb` (the daemon's peak RSS), `cpu_us` (its CPU per
 * request over 3.), `replies` and `expected`.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { SqliteStore, type StoreWrite } from '@zpatterns/titanic';
import * as zmq from 'zeromq';
import { appScript } from '../lib/peer.js';

const [dataDir, storedArg, requestsArg] = process.argv.slice(2);
const stored = Number(storedArg);
const n = Number(requestsArg);
if (dataDir === undefined || !(stored >= 0) || !(n > 0)) {
  process.stderr.write('usage: titanic-scale-trial.js <data dir> <stored> <requests>\n');
  process.exit(2);
}
const ENDPOINT = 'tcp://127.0.0.1:5599';
const EMPTY = Buffer.alloc(0);
const MDPC01 = Buffer.from('MDPC01');
const MDPW01 = Buffer.from('MDPW01');
const PARKED = Buffer.from('parked');
const BODY = Buffer.from('Hello world');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// --- 1. fill --------------------------------------------------------------------------------------
{
  const store = await SqliteStore.start({ dataDir });
  const counts = await store.counts();
  let have = counts.pending + counts.replied;
  const t0 = performance.now();
  while (have < stored) {
    const batch: StoreWrite[] = [];
    for (let i = 0; i < 10_000 && have < stored; i++, have++) {
      const uuid = `fill-${String(have).padStart(8, '0')}`;
      batch.push({ type: 'request', uuid, service: PARKED, body: [BODY] });
      if (have % 2 === 1) batch.push({ type: 'reply', uuid, body: [BODY] });
    }
    await store.write(batch);
  }
  process.stdout.write(`fill_ms=${(performance.now() - t0).toFixed(0)}\n`);
  await store.close();
}

// --- 2. the daemon ------------------------------------------------------------------------------
const started = performance.now();
const daemon = spawn(
  process.execPath,
  [
    appScript('titanic'),
    '--with-broker',
    '--broker',
    ENDPOINT,
    '--data-dir',
    dataDir,
    '--max-backlog',
    '100000000',
    '--max-pending-per-service',
    '100000000',
    '--log-level',
    'info',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const exited = new Promise<void>((r) => daemon.once('exit', () => r()));
await new Promise<void>((resolve, reject) => {
  const lines = createInterface({ input: daemon.stdout });
  daemon.once('exit', (code) => reject(new Error(`titanic exited (${String(code)}) before it was ready`)));
  lines.on('line', (line) => {
    if (line.includes('"ready"')) resolve();
  });
});
process.stdout.write(`start_ms=${(performance.now() - started).toFixed(0)}\n`);
const pid = daemon.pid as number;
const procStat = (): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) / 100) * 1e6;
};

// --- 3. measure -----------------------------------------------------------------------------------
const arrived = new Float64Array(n);
const worker = new zmq.Dealer({ linger: 0 });
worker.connect(ENDPOINT);
await worker.send([EMPTY, MDPW01, Buffer.from([0x01]), Buffer.from('echo')]);
const heartbeat = setInterval(
  () => void worker.send([EMPTY, MDPW01, Buffer.from([0x04])]).catch(() => undefined),
  1000,
);
void (async () => {
  for (;;) {
    let msg: Buffer[];
    try {
      msg = await worker.receive();
    } catch {
      return;
    }
    if (msg[2]?.[0] !== 0x02) continue;
    const body = msg.slice(5);
    arrived[(body[0] as Buffer).readUInt32BE(0)] = performance.now();
    await worker.send([EMPTY, MDPW01, Buffer.from([0x03]), msg[3] as Buffer, EMPTY, ...body]);
  }
})();

const client = new zmq.Dealer({ linger: 0, receiveTimeout: 10_000 });
client.connect(ENDPOINT);
async function call(service: string, body: readonly Buffer[]): Promise<Buffer[]> {
  await client.send([EMPTY, MDPC01, service, ...body]);
  return (await client.receive()).slice(3);
}
for (let i = 0; ; i++) {
  const [status] = await call('mmi.service', [Buffer.from('echo')]);
  if (status?.toString() === '200') break;
  if (i === 300) throw new Error('echo not registered after 15 s');
  await sleep(50);
}

const submitted = new Float64Array(n);
const submit = new Float64Array(n);
const fetch = new Float64Array(n);
const close = new Float64Array(n);
const uuids: Buffer[] = [];
let replies = 0;
const c0 = procStat();
const t0 = performance.now();
try {
  for (let i = 0; i < n; i++) {
    const seq = Buffer.alloc(4);
    seq.writeUInt32BE(i, 0);
    submitted[i] = performance.now();
    const [status, uuid] = await call('titanic.request', [Buffer.from('echo'), seq, BODY]);
    submit[i] = performance.now() - (submitted[i] as number);
    if (status?.toString() !== '200' || uuid === undefined) throw new Error(`submit: ${String(status)}`);
    uuids.push(uuid);
  }
  for (let i = 0; i < n; i++) {
    for (;;) {
      const start = performance.now();
      const [status, ...body] = await call('titanic.reply', [uuids[i] as Buffer]);
      if (status?.toString() === '200') {
        fetch[i] = performance.now() - start;
        if (body[1]?.equals(BODY) === true) replies++;
        break;
      }
      if (status?.toString() !== '300') throw new Error(`fetch: ${String(status)}`);
      await sleep(2);
    }
    const start = performance.now();
    await call('titanic.close', [uuids[i] as Buffer]);
    close[i] = performance.now() - start;
  }
} catch (err) {
  process.stderr.write(`titanic-scale-trial: ${err instanceof Error ? err.message : String(err)}\n`);
}
const elapsed = performance.now() - t0;
const cpu = procStat() - c0;
const rss = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '0';

const claim = arrived.map((at, i) => at - (submitted[i] as number));
const figures: string[] = [];
const pct = (name: string, xs: Float64Array): void => {
  const sorted = xs.slice().sort();
  const at = (p: number): string => ((sorted[Math.floor((p / 100) * (sorted.length - 1))] ?? 0) * 1000).toFixed(0);
  figures.push(`${name}_p50_us=${at(50)}`, `${name}_p99_us=${at(99)}`);
};
pct('submit', submit);
pct('claim', claim);
pct('fetch', fetch);
pct('close', close);

clearInterval(heartbeat);
client.close();
worker.close();
daemon.kill('SIGINT');
await exited;
process.stdout.write(
  `rate=${((n / elapsed) * 1000).toFixed(1)} cpu_us=${(cpu / n).toFixed(1)} rss_kb=${rss} ${figures.join(' ')} replies=${replies} expected=${n}\n`,
);
