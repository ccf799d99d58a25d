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
import * as zmq from 'zeromq';
import { decodeFrames, encodeFrames, openTable, storedBy } from './titanic-table.js';

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
const stored = storedBy(sql, grouped);
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
