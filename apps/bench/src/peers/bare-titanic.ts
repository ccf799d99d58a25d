/**
 * The floor of a Titanic (9/TSP) service on zeromq.js: the fewest socket calls Titanic's shape
 * needs, with none of our code and nothing stored but a `Map` (no durability, no validation, no
 * retries, no heartbeat checks, no mmi.service look-up). Three MDP/0.1 workers (titanic.request,
 * titanic.reply, titanic.close: one DEALER each) and one MDP/0.1 client DEALER that sends every
 * stored request to its service, pipelined, and files the replies in order: that is right only
 * while one worker serves the service (the vs-c shape runs one C `mdworker`). A measuring stick,
 * not a Titanic.
 *
 *   node apps/bench/dist/peers/bare-titanic.js [broker]   (default tcp://127.0.0.1:5555)
 *
 * Per request it does what any Titanic must through a broker: a worker round trip to take the
 * request, a client round trip to the service, a worker round trip per fetch and one to close.
 *
 *   node apps/bench/dist/peers/bare-titanic.js [broker] --sqlite DIR [--fsync] [--group]
 *
 * keeps the requests in SQLite instead of the `Map` (a reproduction of our `titanic` on SQLite):
 * `DIR/titanic.sqlite` opened with our SQLite store's pragmas (exclusive lock, WAL, `synchronous`
 * NORMAL, FULL with `--fsync`), its table and indexes, and per request its statements: the
 * request's INSERT, the reply's UPDATE and the close's DELETE, each in its own transaction, and a
 * SELECT of the reply per fetch; bodies and replies length-prefixed as our store encodes them.
 * `--group` adds our group commit's one piece of work: each write waits for its event-loop turn's
 * batch (one `setImmediate`, one transaction per batch) and is answered after that commit.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as zmq from 'zeromq';

const EMPTY = Buffer.alloc(0);
const MDPC01 = Buffer.from('MDPC01');
const MDPW01 = Buffer.from('MDPW01');
const READY = Buffer.from([0x01]);
const REPLY = Buffer.from([0x03]);
const HEARTBEAT = Buffer.from([0x04]);
const REQUEST = 0x02;
const HEARTBEAT_MS = 2500;
const OK = Buffer.from('200');
const PENDING = Buffer.from('300');
const UNKNOWN = Buffer.from('400');

const args = process.argv.slice(2);
const sqliteAt = args.indexOf('--sqlite');
const sqliteDir = sqliteAt >= 0 ? args[sqliteAt + 1] : undefined;
const broker = args[0] !== undefined && !args[0].startsWith('--') ? args[0] : 'tcp://127.0.0.1:5555';
interface Entry {
  readonly service: Buffer;
  readonly body: Buffer[];
  reply: Buffer[] | undefined;
}
const entries = new Map<string, Entry>();
const sql = sqliteDir === undefined ? undefined : await openTable(sqliteDir, args.includes('--fsync'));
const grouped = sql !== undefined && args.includes('--group');
/** --group: the writes of one event-loop turn, committed together after it. */
const batch: { readonly apply: () => void; readonly resolve: () => void }[] = [];
const flush = (): void => {
  const writes = batch.splice(0);
  sql?.atomically(() => {
    for (const w of writes) w.apply();
  });
  for (const w of writes) w.resolve();
};
/** Commit `apply` now in its own transaction, or (--group) with its turn's batch: the promise of that. */
function stored(apply: () => void): Promise<void> | undefined {
  if (!grouped) {
    sql?.atomically(apply);
    return undefined;
  }
  return new Promise((resolve) => {
    if (batch.length === 0) setImmediate(flush);
    batch.push({ apply, resolve });
  });
}
const noop = (): void => undefined;

const client = new zmq.Dealer({ linger: 0 });
client.connect(broker);
/** UUIDs sent to their service, in order: the one C worker answers them in that order. */
const inFlight: string[] = [];
let inFlightHead = 0;
const dispatch = (uuid: string, entry: Entry): void => {
  inFlight.push(uuid);
  client.send([EMPTY, MDPC01, entry.service, ...entry.body]).catch(noop);
};

const workers: zmq.Dealer[] = [];
function worker(service: string, handle: (body: Buffer[]) => Buffer[] | Promise<Buffer[]>): void {
  const socket = new zmq.Dealer({ linger: 0 });
  workers.push(socket);
  socket.connect(broker);
  socket.send([EMPTY, MDPW01, READY, Buffer.from(service)]).catch(noop);
  void (async () => {
    for (;;) {
      let message: Buffer[];
      try {
        message = await socket.receive();
      } catch {
        return;
      }
      // [ "", MDPW01, REQUEST, client, "", body... ] -> [ "", MDPW01, REPLY, client, "", reply... ]
      if (message[2]?.[0] !== REQUEST) continue;
      const replyTo = message[3] as Buffer;
      const reply = handle(message.slice(5));
      if (Array.isArray(reply)) socket.send([EMPTY, MDPW01, REPLY, replyTo, EMPTY, ...reply]).catch(noop);
      else void reply.then((frames) => socket.send([EMPTY, MDPW01, REPLY, replyTo, EMPTY, ...frames]).catch(noop));
    }
  })();
}

worker('titanic.request', ([service, ...body]) => {
  const uuid = randomUUID();
  const entry: Entry = { service: service as Buffer, body, reply: undefined };
  const accept = (): Buffer[] => {
    entries.set(uuid, entry);
    dispatch(uuid, entry);
    return [OK, Buffer.from(uuid)];
  };
  const done = sql && stored(() => sql.insert(uuid, entry.service, encodeFrames(body), Date.now()));
  return done === undefined ? accept() : done.then(accept);
});
worker('titanic.reply', ([uuid]) => {
  if (sql !== undefined) {
    const row = sql.get(String(uuid));
    if (row === undefined) return [UNKNOWN];
    return row.reply === null ? [PENDING] : [OK, ...decodeFrames(row.reply)];
  }
  const entry = entries.get(String(uuid));
  if (entry === undefined) return [UNKNOWN];
  return entry.reply === undefined ? [PENDING] : [OK, ...entry.reply];
});
worker('titanic.close', ([uuid]) => {
  entries.delete(String(uuid));
  const done = sql && stored(() => sql.remove(String(uuid)));
  return done === undefined ? [OK] : done.then(() => [OK]);
});

void (async () => {
  for (;;) {
    let message: Buffer[];
    try {
      message = await client.receive();
    } catch {
      return;
    }
    // [ "", MDPC01, service, reply... ]
    const uuid = inFlight[inFlightHead++] as string;
    if (inFlightHead === inFlight.length) {
      inFlight.length = 0;
      inFlightHead = 0;
    }
    const entry = entries.get(uuid);
    if (entry === undefined) continue;
    entry.reply = message.slice(3);
    const reply = entry.reply;
    if (sql !== undefined) void stored(() => sql.reply(encodeFrames(reply), Date.now(), uuid));
  }
})();

// The C broker forgets a worker it has not heard from in three intervals.
const timer = setInterval(() => {
  for (const socket of workers) socket.send([EMPTY, MDPW01, HEARTBEAT]).catch(noop);
}, HEARTBEAT_MS);

const stop = (): void => {
  clearInterval(timer);
  for (const socket of workers) socket.close();
  client.close();
  sql?.close();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdout.write(`${JSON.stringify({ ready: true, broker })}\n`);

/** The SQLite side: our store's pragmas, table and statements. */
interface Table {
  /** Run `fn` in one transaction. */
  atomically(fn: () => void): void;
  insert(uuid: string, service: Buffer, body: Buffer, createdMs: number): void;
  reply(reply: Buffer, repliedMs: number, uuid: string): void;
  remove(uuid: string): void;
  get(uuid: string): { reply: Buffer | null } | undefined;
  close(): void;
}

interface Statement {
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
}
interface Database {
  pragma(source: string): unknown;
  exec(source: string): unknown;
  prepare(source: string): Statement;
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  close(): unknown;
}

async function openTable(dir: string, fsync: boolean): Promise<Table> {
  const { default: Sqlite } = (await import('better-sqlite3')) as unknown as {
    default: new (path: string, options: { timeout: number }) => Database;
  };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const db = new Sqlite(join(dir, 'titanic.sqlite'), { timeout: 0 });
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${fsync ? 'FULL' : 'NORMAL'}`);
  db.exec(`
    CREATE TABLE IF NOT EXISTS requests (
      seq INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, service BLOB NOT NULL, body BLOB NOT NULL,
      reply BLOB, created_ms INTEGER NOT NULL, replied_ms INTEGER
    );
    CREATE INDEX IF NOT EXISTS requests_pending ON requests (seq) WHERE reply IS NULL;
    CREATE INDEX IF NOT EXISTS requests_replied ON requests (replied_ms) WHERE reply IS NOT NULL;
  `);
  const insert = db.prepare('INSERT OR IGNORE INTO requests (uuid, service, body, created_ms) VALUES (?, ?, ?, ?)');
  const reply = db.prepare(
    "UPDATE requests SET reply = ?, body = x'', replied_ms = ? WHERE uuid = ? AND reply IS NULL",
  );
  const remove = db.prepare('DELETE FROM requests WHERE uuid = ?');
  const get = db.prepare('SELECT reply FROM requests WHERE uuid = ?');
  const transaction = db.transaction((fn: () => void) => fn());
  return {
    atomically: transaction,
    insert: (uuid, service, body, createdMs) => insert.run(uuid, service, body, createdMs),
    reply: (body, repliedMs, uuid) => reply.run(body, repliedMs, uuid),
    remove: (uuid) => remove.run(uuid),
    get: (uuid) => get.get(uuid) as { reply: Buffer | null } | undefined,
    close: () => db.close(),
  };
}

/** Frames as one blob, each a 32-bit big-endian length and its bytes (our store's encoding). */
function encodeFrames(frames: readonly Buffer[]): Buffer {
  let size = 0;
  for (const f of frames) size += 4 + f.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const f of frames) {
    out.writeUInt32BE(f.length, at);
    out.set(f, at + 4);
    at += 4 + f.length;
  }
  return out;
}

function decodeFrames(blob: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let at = 0; at + 4 <= blob.length;) {
    const length = blob.readUInt32BE(at);
    frames.push(Buffer.from(blob.subarray(at + 4, at + 4 + length)));
    at += 4 + length;
  }
  return frames;
}
