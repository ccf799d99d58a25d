/**
 * The floor of a Majordomo worker on zeromq.js: one DEALER speaking just enough 7/MDP/0.1 to
 * serve 'echo' (READY once, REPLY to each REQUEST with its body, a HEARTBEAT every 2.5 s so the
 * broker keeps it), with none of `MajordomoWorker`'s code: no validation, no liveness, no
 * reconnection, no limits. A measuring stick for the `mdworker` vs-c shape, not a worker.
 *
 *   node apps/bench/dist/peers/bare-mdworker.js [broker] [channel]   (default tcp://127.0.0.1:5555)
 *
 * With `channel` it is a reproduction, not the floor: the same worker receiving and replying
 * through core's `Channel` (one receive loop calling a handler, `post()` into the send queue), as
 * `MajordomoWorker` does.
 *
 * Per request it does what any worker must: one receive (6 + body frames) and one send.
 */
import * as zmq from 'zeromq';

const EMPTY = Buffer.alloc(0);
const MDPW01 = Buffer.from('MDPW01');
const READY = Buffer.from([0x01]);
const REQUEST = 0x02;
const REPLY = Buffer.from([0x03]);
const HEARTBEAT = Buffer.from([0x04]);
const HEARTBEAT_MS = 2500;

const dealer = new zmq.Dealer({ linger: 0 });
dealer.connect(process.argv[2] ?? 'tcp://127.0.0.1:5555');
const noop = (): void => undefined;
const send = (message: Buffer[]): void => {
  dealer.send(message).catch(noop);
};
send([EMPTY, MDPW01, READY, Buffer.from('echo')]);
const timer = setInterval(() => send([EMPTY, MDPW01, HEARTBEAT]), HEARTBEAT_MS);
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
const stop = (): void => {
  clearInterval(timer);
  dealer.close();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

if (process.argv[3] === 'channel') {
  // Loaded only here: the floor itself runs none of our code.
  const { Channel } = await import('@zpatterns/core/internal');
  const channel = new Channel(dealer);
  await channel.start((message) => {
    if (message[2]?.[0] !== REQUEST) return;
    message[2] = REPLY;
    channel.post(message);
  });
}

for (;;) {
  let message: Buffer[];
  try {
    message = await dealer.receive();
  } catch {
    break;
  }
  // ["", "MDPW01", REQUEST, client, "", body...] -> ["", "MDPW01", REPLY, client, "", body...]
  if (message[2]?.[0] !== REQUEST) continue;
  message[2] = REPLY;
  send(message);
}
