/**
 * Paranoid Pirate (6/PPP) echo workers for the `ppqueue` vs-c shape, all in this one process: the
 * book's `ppworker` without its simulated crashes and without its `sleep (1)` of "heavy work" per
 * request (the C `ppworker_nochaos` keeps that sleep, so ten of them answer ten requests a second
 * whatever the queue). A measuring stick's peer, not a worker: bare zeromq.js, none of our code.
 *
 * Each worker is a DEALER that sends READY `[0x01]`, echoes every 3-frame request
 * `[client-id][""][body]` as it came, sends HEARTBEAT `[0x02]` every second, and, like ppworker,
 * treats `liveness` (3) silent seconds as a dead queue: then this process exits with status 1 and
 * the trial fails loudly (ppworker would reconnect and lose the requests in flight).
 *
 *   node pp-workers.js [--queue tcp://localhost:5556] [--workers 10] [--liveness 3]
 */
import { parseArgs } from 'node:util';
import * as zmq from 'zeromq';

const { values } = parseArgs({
  options: {
    queue: { type: 'string', default: 'tcp://localhost:5556' },
    workers: { type: 'string', default: '10' },
    liveness: { type: 'string', default: '3' },
  },
});
const READY = Buffer.from([0x01]);
const HEARTBEAT = Buffer.from([0x02]);
const INTERVAL_MS = 1000;
const LIVENESS = Number(values.liveness);
const noop = (): void => undefined;

const sockets: zmq.Dealer[] = [];
const heard: number[] = [];
let stopping = false;

async function serve(socket: zmq.Dealer, index: number): Promise<void> {
  for (;;) {
    let message: Buffer[];
    try {
      message = await socket.receive();
    } catch {
      return;
    }
    heard[index] = Date.now();
    if (message.length === 3) socket.send(message).catch(noop);
  }
}

const count = Number(values.workers);
for (let i = 0; i < count; i++) {
  const socket = new zmq.Dealer({ linger: 0, sendTimeout: 0 });
  socket.connect(values.queue);
  sockets.push(socket);
  heard.push(Date.now());
  socket.send(READY).catch(noop);
  void serve(socket, i);
}
const timer = setInterval(() => {
  const now = Date.now();
  for (let i = 0; i < sockets.length; i++) {
    if (now - (heard[i] ?? now) > INTERVAL_MS * LIVENESS && !stopping) {
      process.stderr.write(`pp-workers: worker ${i} heard nothing for ${LIVENESS} s: queue dead\n`);
      process.exit(1);
    }
    sockets[i]?.send(HEARTBEAT).catch(noop);
  }
}, INTERVAL_MS);
process.stdout.write(`${JSON.stringify({ ready: true, workers: count })}\n`);
const stop = (): void => {
  stopping = true;
  clearInterval(timer);
  for (const socket of sockets) socket.close();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
