/**
 * The floor of a Majordomo broker on zeromq.js: the fewest socket calls a 7/MDP broker can make,
 * with none of `Broker`'s bookkeeping (no validation, no expiry, no limits, one service, one
 * FIFO of idle workers, one FIFO of queued requests). It answers the book's C `mdworker` and
 * `mdclient2` for as long as they run, and nothing else; it is a measuring stick, not a broker.
 *
 *   node apps/bench/dist/peers/bare-mdbroker.js [endpoint]   (default tcp://127.0.0.1:5555)
 *
 * Per request it does what any broker must: one receive and one send per hop (client -> broker
 * -> worker, worker -> broker -> client). Whatever CPU it spends per request is zeromq.js's
 * (frame Buffers, the promise per call, the binding) plus libzmq's and the kernel's.
 */
import * as zmq from 'zeromq';

const EMPTY = Buffer.alloc(0);
const MDPC01 = Buffer.from('MDPC01');
const MDPW01 = Buffer.from('MDPW01');
const REQUEST = Buffer.from([0x02]);
const HEARTBEAT = Buffer.from([0x04]);
const READY = 0x01;
const REPLY = 0x03;
const HEARTBEAT_MS = 2500;
const SERVICE = Buffer.from('echo');

const router = new zmq.Router({ linger: 0, sendTimeout: 0, mandatory: false });
await router.bind(process.argv[2] ?? 'tcp://127.0.0.1:5555');
process.stdout.write(`${JSON.stringify({ ready: true, endpoint: router.lastEndpoint })}\n`);

/** A FIFO with O(1) shift (Array.prototype.shift is O(n) on the long queue mdclient2 builds). */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;
  push(item: T): void {
    this.#items.push(item);
  }
  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    }
    return item;
  }
}

const idle = new Fifo<Buffer>();
const queue = new Fifo<Buffer[]>();
const workers: Buffer[] = [];
const noop = (): void => undefined;
const send = (message: Buffer[]): void => {
  router.send(message).catch(noop);
};

// The C worker gives up on a broker it has not heard from in three intervals.
const timer = setInterval(() => {
  for (const worker of workers) send([worker, EMPTY, MDPW01, HEARTBEAT]);
}, HEARTBEAT_MS);

const stop = (): void => {
  clearInterval(timer);
  router.close();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

const toWorker = (worker: Buffer, request: Buffer[]): void => {
  // request: [client, "", MDPC01, service, body...] -> [worker, "", MDPW01, REQUEST, client, "", body...]
  const out = [worker, EMPTY, MDPW01, REQUEST, request[0] as Buffer, EMPTY];
  for (let i = 4; i < request.length; i++) out.push(request[i] as Buffer);
  send(out);
};

for (;;) {
  let message: Buffer[];
  try {
    message = await router.receive();
  } catch {
    break;
  }
  const header = message[2];
  if (header === undefined) continue;
  if (header.equals(MDPC01)) {
    const worker = idle.shift();
    if (worker === undefined) queue.push(message);
    else toWorker(worker, message);
    continue;
  }
  if (!header.equals(MDPW01)) continue;
  const sender = message[0] as Buffer;
  const command = message[3]?.[0];
  if (command === READY) {
    workers.push(sender);
  } else if (command === REPLY) {
    // [worker, "", MDPW01, REPLY, client, "", body...] -> [client, "", MDPC01, "echo", body...]
    const out = [message[4] as Buffer, EMPTY, MDPC01, SERVICE];
    for (let i = 6; i < message.length; i++) out.push(message[i] as Buffer);
    send(out);
  } else {
    continue;
  }
  const next = queue.shift();
  if (next === undefined) idle.push(sender);
  else toWorker(sender, next);
}
