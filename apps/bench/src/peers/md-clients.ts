/**
 * Our Majordomo clients as a user's program drives them, for the `mdclient` vs-c shape:
 * `pipeline` sends N requests to 'echo' with `MajordomoPipeline.send()` and then reads the N
 * replies with `replies()` (the book's mdclient2); `sequential` sends one at a time with
 * `MajordomoClient.request()` (the book's mdclient). `WARMUP` requests (env, default 0) go first
 * the same way and are not measured. Prints one `key=value` line (CPU of this process per request
 * over the measured run and over the whole run, round trips, peak RSS).
 *
 *   node apps/bench/dist/peers/md-clients.js pipeline|pipeline-async|sequential N [broker]
 */
import { MajordomoClient, MajordomoPipeline } from '@zpatterns/majordomo';
import { body, cpuNow, giveUpAfter, indexOf, Measure, now, warmup, warmupWatchdog } from './md-client-report.js';

const mode = process.argv[2];
const n = Number(process.argv[3] ?? 10_000);
const broker = process.argv[4] ?? 'tcp://127.0.0.1:5555';

if (mode === 'pipeline' || mode === 'pipeline-async') {
  // `pipeline-async`: each send awaits libzmq taking it (`sendAsync()`, back-pressure at the
  // high-water mark, as the C client's blocking send and the bare floor's awaited send), in a
  // sender that runs while the replies are read.
  const backPressured = mode === 'pipeline-async';
  const pipeline = new MajordomoPipeline({ broker });
  await pipeline.start();
  const cold = cpuNow();
  const warm = warmupWatchdog(120_000);
  const warming = backPressured
    ? (async (): Promise<void> => {
        for (let i = 0; i < warmup; i++) await pipeline.sendAsync('echo', body(i));
      })()
    : undefined;
  for (let i = 0; warming === undefined && i < warmup; i++) pipeline.send('echo', body(i));
  let warmed = 0;
  if (warmup > 0) {
    for await (const reply of pipeline.replies()) if (reply !== undefined && ++warmed === warmup) break;
  }
  await warming;
  warm();
  const sent = new Float64Array(n);
  const measure = new Measure(n, cold);
  giveUpAfter(measure, 120_000);
  const sender = backPressured
    ? (async (): Promise<void> => {
        for (let i = 0; i < n; i++) {
          sent[i] = now();
          await pipeline.sendAsync('echo', body(i));
        }
      })()
    : undefined;
  for (let i = 0; sender === undefined && i < n; i++) {
    sent[i] = now();
    pipeline.send('echo', body(i));
  }
  for await (const reply of pipeline.replies()) {
    measure.done(now() - (sent[indexOf(reply.body[0] as Buffer)] as number));
    if (measure.replies === n) break;
  }
  await sender;
  measure.print();
  await pipeline.close();
} else if (mode === 'sequential') {
  const client = new MajordomoClient({ broker });
  await client.start();
  const cold = cpuNow();
  const warm = warmupWatchdog(120_000);
  for (let i = 0; i < warmup; i++) await client.request('echo', body(i));
  warm();
  const measure = new Measure(n, cold);
  giveUpAfter(measure, 120_000);
  for (let i = 0; i < n; i++) {
    const t = now();
    await client.request('echo', body(i));
    measure.done(now() - t);
  }
  measure.print();
  await client.close();
} else {
  throw new Error('usage: md-clients.js pipeline|pipeline-async|sequential N [broker]');
}
