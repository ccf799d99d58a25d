/**
 * A reproduction, not a broker: `bare-mdbroker` plus exactly the per-message bookkeeping our
 * `Broker` does and the floor skips, written inline with none of our code, to show how much of
 * the distance from the floor to ours that bookkeeping is. Each piece is what a broker needs for
 * a guarantee docs/benchmarks.md names:
 *
 *   - each message's frames are checked as 7/MDP requires before it is routed (a peer's garbage
 *     must not kill or confuse the daemon), and every message is counted and bounded in size;
 *   - a worker message finds its worker record by identity (read as a number: libzmq's 5-byte
 *     identities) and, with one clock read, moves it to the tail of a liveness list (a linked list
 *     through the records), so that dead workers expire without a scan;
 *   - a client request becomes a record (client, body, arrival time, bytes, its client's share)
 *     held in a queue (its deadline is its arrival time plus the time to live), and its bytes are
 *     counted overall and in its client's share of the queue (the queue bounds): an object per
 *     client with requests queued, found by byte comparison with the client before, or in a Map;
 *   - a worker's reply is checked against the request it holds (the right client) before it is
 *     forwarded.
 *
 *   node apps/bench/dist/peers/bare-mdbroker-bookkeeping.js [endpoint]   (default tcp://127.0.0.1:5555)
 *
 * `BOOKKEEPING_SKIP=liveness,accounting` leaves out pieces, to weigh each: `liveness` (the clock
 * read and the liveness list's move per worker message), `accounting` (arrival time and bytes of
 * each request, the per-client shares and the queue bounds).
 *
 * Like `bare-mdbroker`, it serves the book's C `mdworker` and `mdclient2` (one service) and nothing
 * else.
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
const TTL_MS = 3 * HEARTBEAT_MS;
const MAX_QUEUED_BYTES = 256 * 1024 * 1024;
const MAX_QUEUED_BYTES_PER_CLIENT = 64 * 1024 * 1024;
const MAX_FRAMES = 64;
const MAX_BYTES = 1 << 20;
const SERVICE = Buffer.from('echo');
const skip = new Set((process.env['BOOKKEEPING_SKIP'] ?? '').split(','));
const LIVENESS = !skip.has('liveness');
const ACCOUNTING = !skip.has('accounting');

const router = new zmq.Router({ linger: 0, sendTimeout: 0, mandatory: false });
await router.bind(process.argv[2] ?? 'tcp://127.0.0.1:5555');
process.stdout.write(`${JSON.stringify({ ready: true, endpoint: router.lastEndpoint })}\n`);

interface Share {
  readonly key: string;
  bytes: number;
}
class Pending {
  share: Share | undefined = undefined;
  constructor(
    readonly client: Buffer,
    readonly body: Buffer[],
    readonly arrivedAt: number,
    readonly bytes: number,
  ) {}
}
interface WorkerRecord {
  identity: Buffer;
  request: Pending | undefined;
  expiresAt: number;
  prev: WorkerRecord | undefined;
  next: WorkerRecord | undefined;
}

/** A FIFO with O(1) shift. */
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

const equals = (a: Buffer, b: Buffer): boolean => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

const idle = new Fifo<WorkerRecord>();
const queue = new Fifo<Pending>();
const workers = new Map<number, WorkerRecord>();
/** Workers in order of their last message: a list through the records, the head expires first. */
let head: WorkerRecord | undefined;
let tail: WorkerRecord | undefined;
const touch = (worker: WorkerRecord, now: number): void => {
  worker.expiresAt = now + TTL_MS;
  if (worker === tail) return;
  if (worker.prev !== undefined || worker === head) {
    if (worker.prev === undefined) head = worker.next;
    else worker.prev.next = worker.next;
    if (worker.next === undefined) tail = worker.prev;
    else worker.next.prev = worker.prev;
  }
  worker.prev = tail;
  worker.next = undefined;
  if (tail === undefined) head = worker;
  else tail.next = worker;
  tail = worker;
};
const shares = new Map<string, Share>();
/** The last client's share: a pipelining client sends request after request. */
let lastClient: Buffer | undefined;
let lastShare: Share | undefined;
const shareOf = (client: Buffer): Share => {
  if (lastClient !== undefined && lastShare !== undefined && equals(lastClient, client)) return lastShare;
  const key = client.toString('latin1');
  const share = shares.get(key) ?? { key, bytes: 0 };
  lastClient = client;
  lastShare = share;
  return share;
};
const stats = { received: 0, malformed: 0, requests: 0, replies: 0, refused: 0 };
let queuedBytes = 0;
const noop = (): void => undefined;
const send = (message: Buffer[]): void => {
  router.send(message).catch(noop);
};

const timer = setInterval(() => {
  for (const worker of workers.values()) send([worker.identity, EMPTY, MDPW01, HEARTBEAT]);
}, HEARTBEAT_MS);
const stop = (): void => {
  clearInterval(timer);
  router.close();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

const charge = (request: Pending, share: Share): void => {
  queuedBytes += request.bytes;
  if (share.bytes === 0) shares.set(share.key, share);
  share.bytes += request.bytes;
  request.share = share;
};
const discharge = (request: Pending): void => {
  queuedBytes -= request.bytes;
  const share = request.share as Share;
  request.share = undefined;
  share.bytes -= request.bytes;
  if (share.bytes <= 0) {
    share.bytes = 0;
    shares.delete(share.key);
  }
};

const dispatch = (worker: WorkerRecord, request: Pending): void => {
  worker.request = request;
  const out = [worker.identity, EMPTY, MDPW01, REQUEST, request.client, EMPTY];
  for (const part of request.body) out.push(part);
  send(out);
};

const workerIdle = (worker: WorkerRecord): void => {
  worker.request = undefined;
  const next = queue.shift();
  if (next === undefined) idle.push(worker);
  else {
    if (ACCOUNTING) discharge(next);
    dispatch(worker, next);
  }
};

const onClient = (message: Buffer[]): void => {
  // [client, "", MDPC01, service, body...]
  const service = message[3];
  if (service === undefined || service.length === 0 || message.length < 5) {
    stats.malformed++;
    return;
  }
  stats.requests++;
  const client = message[0] as Buffer;
  const body = message.length === 5 ? [message[4] as Buffer] : message.slice(4);
  if (!ACCOUNTING) {
    const request = new Pending(client, body, 0, 0);
    const worker = idle.shift();
    if (worker === undefined) queue.push(request);
    else dispatch(worker, request);
    return;
  }
  let bytes = 96 + client.length;
  for (const frame of body) bytes += frame.length + 16;
  const request = new Pending(client, body, performance.now(), bytes);
  const worker = idle.shift();
  if (worker !== undefined) {
    dispatch(worker, request);
    return;
  }
  const share = shareOf(client);
  if (share.bytes + bytes > MAX_QUEUED_BYTES_PER_CLIENT || queuedBytes + bytes > MAX_QUEUED_BYTES) {
    stats.refused++;
    return;
  }
  charge(request, share);
  queue.push(request);
};

const onWorker = (message: Buffer[]): void => {
  const sender = message[0] as Buffer;
  const command = message[3];
  if (command === undefined || command.length !== 1) {
    stats.malformed++;
    return;
  }
  // The worker's identity read as a number in JavaScript (libzmq's 5-byte identities).
  const id =
    (sender[1] as number) * 0x1000000 +
    (((sender[2] as number) << 16) | ((sender[3] as number) << 8) | (sender[4] as number));
  let worker = workers.get(id);
  const now = LIVENESS ? performance.now() : 0;
  if (worker === undefined) {
    if (command[0] !== READY || message.length !== 5) return;
    worker = { identity: Buffer.from(sender), request: undefined, expiresAt: 0, prev: undefined, next: undefined };
    workers.set(id, worker);
    if (LIVENESS) touch(worker, now);
    workerIdle(worker);
    return;
  }
  if (LIVENESS) touch(worker, now);
  if (command[0] !== REPLY) return;
  // [worker, "", MDPW01, REPLY, client, "", body...]
  const client = message[4];
  const request = worker.request;
  if (client === undefined || message[5]?.length !== 0 || request === undefined || !equals(client, request.client)) {
    stats.malformed++;
    return;
  }
  stats.replies++;
  const out = [client, EMPTY, MDPC01, SERVICE];
  for (let i = 6; i < message.length; i++) out.push(message[i] as Buffer);
  send(out);
  workerIdle(worker);
};

for (;;) {
  let message: Buffer[];
  try {
    message = await router.receive();
  } catch {
    break;
  }
  stats.received++;
  let bytes = 0;
  for (const part of message) bytes += part.length;
  if (message.length > MAX_FRAMES || bytes > MAX_BYTES || message.length < 4) {
    stats.malformed++;
    continue;
  }
  if ((message[1] as Buffer).length !== 0) {
    stats.malformed++;
    continue;
  }
  const header = message[2] as Buffer;
  if (equals(header, MDPC01)) onClient(message);
  else if (equals(header, MDPW01)) onWorker(message);
  else stats.malformed++;
}
