/**
 * The floor of a Paranoid Pirate (6/PPP) queue on zeromq.js: two ROUTERs, a FIFO of ready workers
 * and a FIFO of requests waiting for one, and a heartbeat `[worker-id][0x02]` to every known worker
 * each second (what the book's ppworker needs to stay connected). No validation, no expiry, no
 * limits: a measuring stick for `ppqueue`, not a queue.
 *
 *   node bare-ppqueue.js [frontend] [backend]   (default tcp://*:5555 tcp://*:5556, as ppqueue.c)
 */
import * as zmq from 'zeromq';

const frontend = new zmq.Router({ linger: 0, sendTimeout: 0 });
const backend = new zmq.Router({ linger: 0, sendTimeout: 0 });
await frontend.bind(process.argv[2] ?? 'tcp://*:5555');
await backend.bind(process.argv[3] ?? 'tcp://*:5556');
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

const HEARTBEAT = Buffer.from([0x02]);
const noop = (): void => undefined;
const known = new Map<string, Buffer>();
const ready: Buffer[] = [];
const waiting: Buffer[][] = [];

const timer = setInterval(() => {
  for (const id of known.values()) backend.send([id, HEARTBEAT]).catch(noop);
}, 1000);
const stop = (): void => {
  clearInterval(timer);
  frontend.close();
  backend.close();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

async function fromClients(): Promise<void> {
  for (;;) {
    let request: Buffer[];
    try {
      request = await frontend.receive();
    } catch {
      return;
    }
    const worker = ready.shift();
    if (worker === undefined) waiting.push(request);
    else backend.send([worker, ...request]).catch(noop);
  }
}

async function fromWorkers(): Promise<void> {
  for (;;) {
    let message: Buffer[];
    try {
      message = await backend.receive();
    } catch {
      return;
    }
    const worker = message[0] as Buffer;
    if (message.length === 2) {
      // READY or HEARTBEAT: only READY (and a worker's first word) makes it ready.
      const key = worker.toString('latin1');
      if (known.has(key) && message[1]?.[0] !== 0x01) continue;
      known.set(key, worker);
    } else {
      frontend.send(message.slice(1)).catch(noop);
    }
    const request = waiting.shift();
    if (request === undefined) ready.push(worker);
    else backend.send([worker, ...request]).catch(noop);
  }
}

await Promise.all([fromClients(), fromWorkers()]);
