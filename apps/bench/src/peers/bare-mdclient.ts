/**
 * The floor of a Majordomo client on zeromq.js: one DEALER speaking just enough 7/MDP/0.1 client
 * to send requests to 'echo' and read the replies, with none of our code (no validation, no
 * timeouts, no retries, no correlation). A measuring stick for the `mdclient` vs-c shape.
 *
 *   node apps/bench/dist/peers/bare-mdclient.js pipeline|pipeline-channel|sequential|sequential-channel N [broker]
 *
 * `pipeline` sends N requests (one awaited send each, so libzmq's high-water mark holds the rest
 * back) while one receive loop reads the replies; `sequential` sends one and awaits its reply.
 * `WARMUP` requests (env, default 0) go first the same way and are not measured. The `-channel`
 * modes are reproductions, not floors: the same exchange through core's `Channel`.
 * Per request it does what any client must: one send of 4 frames and one receive of 4.
 */
import * as zmq from 'zeromq';
import { body, cpuNow, giveUpAfter, indexOf, Measure, now, warmup, warmupWatchdog } from './md-client-report.js';

const EMPTY = Buffer.alloc(0);
const MDPC01 = Buffer.from('MDPC01');
const SERVICE = Buffer.from('echo');

const mode = process.argv[2];
const n = Number(process.argv[3] ?? 10_000);
const dealer = new zmq.Dealer({ linger: 0 });
dealer.connect(process.argv[4] ?? 'tcp://127.0.0.1:5555');
const cold = cpuNow();
const warm = warmupWatchdog(120_000);
if (mode === 'pipeline-channel') {
  // A reproduction, not the floor: `pipeline` with each request awaited through core's Channel
  // (`send()`: its queue and pump) and the replies read by the Channel's receive loop, as
  // MajordomoPipeline does with sendAsync() beside replies(); warmed the same way. Loaded only here.
  const { Channel } = await import('@zpatterns/core/internal');
  const channel = new Channel(dealer);
  let onReply: (reply: Buffer[]) => void = () => undefined;
  void channel.start((reply) => onReply(reply));
  const run = async (count: number, each: (i: number) => void, done: (reply: Buffer[]) => boolean): Promise<void> => {
    let finished: () => void = () => undefined;
    const all = new Promise<void>((resolve) => (finished = resolve));
    onReply = (reply) => {
      if (done(reply)) finished();
    };
    for (let i = 0; i < count; i++) {
      each(i);
      await channel.send([EMPTY, MDPC01, SERVICE, body(i)]);
    }
    await all;
  };
  let warmed = 0;
  if (warmup > 0)
    await run(
      warmup,
      () => undefined,
      () => ++warmed === warmup,
    );
  warm();
  const measure = new Measure(n, cold);
  giveUpAfter(measure, 120_000);
  const sent = new Float64Array(n);
  await run(
    n,
    (i) => (sent[i] = now()),
    (reply) => {
      measure.done(now() - (sent[indexOf(reply[3] as Buffer)] as number));
      return measure.replies === n;
    },
  );
  measure.print();
  dealer.close();
  process.exit(0);
}
if (mode === 'pipeline') {
  const sender = (async (): Promise<void> => {
    for (let i = 0; i < warmup; i++) await dealer.send([EMPTY, MDPC01, SERVICE, body(i)]);
  })();
  for (let i = 0; i < warmup; i++) await dealer.receive();
  await sender;
} else {
  for (let i = 0; i < warmup; i++) {
    await dealer.send([EMPTY, MDPC01, SERVICE, body(i)]);
    await dealer.receive();
  }
}
warm();
const measure = new Measure(n, cold);
giveUpAfter(measure, 120_000);

if (mode === 'pipeline') {
  const sent = new Float64Array(n);
  const sender = (async (): Promise<void> => {
    for (let i = 0; i < n; i++) {
      sent[i] = now();
      await dealer.send([EMPTY, MDPC01, SERVICE, body(i)]);
    }
  })();
  while (measure.replies < n) {
    // ["", "MDPC01", "echo", body]
    const reply = await dealer.receive();
    measure.done(now() - (sent[indexOf(reply[3] as Buffer)] as number));
  }
  await sender;
} else if (mode === 'sequential') {
  for (let i = 0; i < n; i++) {
    const t = now();
    await dealer.send([EMPTY, MDPC01, SERVICE, body(i)]);
    await dealer.receive();
    measure.done(now() - t);
  }
} else if (mode === 'sequential-channel') {
  // A reproduction, not the floor: the same exchange through core's Channel as our clients do it
  // (post() into the send queue, one receive loop handing each reply to the waiting request).
  // Loaded only here: the floor's own modes run none of our code.
  const { Channel } = await import('@zpatterns/core/internal');
  const channel = new Channel(dealer);
  let waiting: ((reply: Buffer[]) => void) | undefined;
  void channel.start((reply) => waiting?.(reply));
  for (let i = 0; i < n; i++) {
    const t = now();
    await new Promise<Buffer[]>((resolve) => {
      waiting = resolve;
      channel.post([EMPTY, MDPC01, SERVICE, body(i)]);
    });
    measure.done(now() - t);
  }
} else {
  throw new Error('usage: bare-mdclient.js pipeline|pipeline-channel|sequential|sequential-channel N [broker]');
}
measure.print();
dealer.close();
