/**
 * A reproduction for the `titanic` vs-c shape: `bare-titanic` (a `Map` for a store, no validation,
 * no retries) with exactly one thing changed: its sockets are our Majordomo libraries, as Titanic
 * uses them. The three 9/TSP services are `MajordomoWorker`s (one each), and every stored request
 * goes to its service through one `MajordomoClient` with Titanic's dispatch options (one attempt
 * bounded by its own wait, no resend, a shutdown signal; a socket per request in flight). None of
 * Titanic's code: no store interface, group commit, dispatch queue, backlog bounds or codec.
 * Ours against it is what Titanic's own code costs; it against `bare-titanic` is what the
 * Majordomo libraries cost. A measuring stick, not a Titanic.
 *
 *   node apps/bench/dist/peers/libs-titanic.js [broker]   (default tcp://127.0.0.1:5555)
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';

const OK = Buffer.from('200');
const PENDING = Buffer.from('300');
const UNKNOWN = Buffer.from('400');
const TIMEOUT_MS = 10_000;

const broker = process.argv[2] ?? 'tcp://127.0.0.1:5555';
interface Entry {
  readonly service: Buffer;
  readonly body: Buffer[];
  reply: Buffer[] | undefined;
}
const entries = new Map<string, Entry>();
const shutdown = new AbortController();
setMaxListeners(0, shutdown.signal); // one listener per request in flight, as in Titanic
const client = new MajordomoClient({ broker, attemptTimeoutMs: TIMEOUT_MS, retries: 0, maxSockets: 33 });
const options = { attemptTimeoutMs: TIMEOUT_MS, retries: 0, signal: shutdown.signal };

const dispatch = (uuid: string, entry: Entry): void => {
  client.request(entry.service, entry.body, options).then(
    (reply) => {
      if (entries.get(uuid) === entry) entry.reply = reply;
    },
    () => undefined, // not in a trial: every request is answered, or the trial fails on its count
  );
};

const workers = [
  new MajordomoWorker({
    broker,
    service: 'titanic.request',
    handler: ([service, ...body]) => {
      const uuid = randomUUID();
      const entry: Entry = { service: service as Buffer, body, reply: undefined };
      entries.set(uuid, entry);
      dispatch(uuid, entry);
      return [OK, Buffer.from(uuid)];
    },
  }),
  new MajordomoWorker({
    broker,
    service: 'titanic.reply',
    handler: ([uuid]) => {
      const entry = entries.get(String(uuid));
      if (entry === undefined) return [UNKNOWN];
      return entry.reply === undefined ? [PENDING] : [OK, ...entry.reply];
    },
  }),
  new MajordomoWorker({
    broker,
    service: 'titanic.close',
    handler: ([uuid]) => {
      entries.delete(String(uuid));
      return [OK];
    },
  }),
];

await client.start();
await Promise.all(workers.map((w) => w.start()));

const stop = (): void => {
  shutdown.abort();
  void Promise.allSettled([...workers.map((w) => w.close()), client.close()]);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdout.write(`${JSON.stringify({ ready: true, broker })}\n`);
