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
 *   node apps/bench/dist/peers/libs-titanic.js [broker] [--workers R,C]   (default tcp://127.0.0.1:5555)
 *
 * `--workers R,C`: R workers for titanic.request and C each for titanic.reply and titanic.close
 * (default 1,1); `--workers 32,8` is our Titanic's default, for a like-for-like socket count.
 *
 *   node apps/bench/dist/peers/libs-titanic.js [broker] --sqlite DIR [--fsync] [--group]
 *
 * keeps the requests in SQLite as `bare-titanic --sqlite` does (our store's pragmas, table and
 * statements; `--group`: our group commit's turn): ours on SQLite against it is what Titanic's own
 * code costs on that path, with the store and the libraries on both sides.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { decodeFrames, encodeFrames, openTable, storedBy } from './titanic-table.js';

const OK = Buffer.from('200');
const PENDING = Buffer.from('300');
const UNKNOWN = Buffer.from('400');
const TIMEOUT_MS = 10_000;

const args = process.argv.slice(2);
const broker = args[0] !== undefined && !args[0].startsWith('--') ? args[0] : 'tcp://127.0.0.1:5555';
const workersAt = args.indexOf('--workers');
const [requestWorkers = 1, replyWorkers = 1] = (workersAt >= 0 ? (args[workersAt + 1] ?? '') : '1,1')
  .split(',')
  .map(Number);
interface Entry {
  readonly service: Buffer;
  readonly body: Buffer[];
  reply: Buffer[] | undefined;
}
const entries = new Map<string, Entry>();
const sqliteAt = args.indexOf('--sqlite');
const sqliteDir = sqliteAt >= 0 ? args[sqliteAt + 1] : undefined;
const sql = sqliteDir === undefined ? undefined : await openTable(sqliteDir, args.includes('--fsync'));
const stored = storedBy(sql, sql !== undefined && args.includes('--group'));
const shutdown = new AbortController();
setMaxListeners(0, shutdown.signal); // one listener per request in flight, as in Titanic
const client = new MajordomoClient({ broker, attemptTimeoutMs: TIMEOUT_MS, retries: 0, maxSockets: 33 });
const options = { attemptTimeoutMs: TIMEOUT_MS, retries: 0, signal: shutdown.signal };

const dispatch = (uuid: string, entry: Entry): void => {
  client.request(entry.service, entry.body, options).then(
    (reply) => {
      if (entries.get(uuid) === entry) entry.reply = reply;
      if (sql !== undefined) void stored(() => sql.reply(encodeFrames(reply), Date.now(), uuid));
    },
    () => undefined, // not in a trial: every request is answered, or the trial fails on its count
  );
};

const times = <T>(n: number, make: () => T): T[] => Array.from({ length: n }, make);
const workers = [
  ...times(
    requestWorkers,
    () =>
      new MajordomoWorker({
        broker,
        service: 'titanic.request',
        handler: ([service, ...body]) => {
          const uuid = randomUUID();
          const entry: Entry = { service: service as Buffer, body, reply: undefined };
          const accept = (): Buffer[] => {
            entries.set(uuid, entry);
            dispatch(uuid, entry);
            return [OK, Buffer.from(uuid)];
          };
          const done = sql && stored(() => sql.insert(uuid, entry.service, encodeFrames(body), Date.now()));
          return done === undefined ? accept() : done.then(accept);
        },
      }),
  ),
  ...times(
    replyWorkers,
    () =>
      new MajordomoWorker({
        broker,
        service: 'titanic.reply',
        handler: ([uuid]) => {
          if (sql !== undefined) {
            const row = sql.get(String(uuid));
            if (row === undefined) return [UNKNOWN];
            return row.reply === null ? [PENDING] : [OK, ...decodeFrames(row.reply)];
          }
          const entry = entries.get(String(uuid));
          if (entry === undefined) return [UNKNOWN];
          return entry.reply === undefined ? [PENDING] : [OK, ...entry.reply];
        },
      }),
  ),
  ...times(
    replyWorkers,
    () =>
      new MajordomoWorker({
        broker,
        service: 'titanic.close',
        handler: ([uuid]) => {
          entries.delete(String(uuid));
          const done = sql && stored(() => sql.remove(String(uuid)));
          return done === undefined ? [OK] : done.then(() => [OK]);
        },
      }),
  ),
];

await client.start();
await Promise.all(workers.map((w) => w.start()));

const stop = (): void => {
  shutdown.abort();
  void Promise.allSettled([...workers.map((w) => w.close()), client.close()]).then(() => sql?.close());
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdout.write(`${JSON.stringify({ ready: true, broker })}\n`);
