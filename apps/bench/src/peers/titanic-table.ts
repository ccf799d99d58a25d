/**
 * The SQLite side of the Titanic reproductions (`bare-titanic --sqlite`, `libs-titanic --sqlite`):
 * our SQLite store's pragmas, table, indexes and statements, its length-prefixed frame encoding,
 * and (`--group`) our group commit's one piece of work, a batch per event-loop turn. None of our
 * code: a measuring stick.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Commit `apply` now in its own transaction, or (`grouped`) with its event-loop turn's batch (one
 * `setImmediate`, one transaction per batch): the promise of that commit, `undefined` when done
 * at once or with no table.
 */
export function storedBy(sql: Table | undefined, grouped: boolean): (apply: () => void) => Promise<void> | undefined {
  const batch: { readonly apply: () => void; readonly resolve: () => void }[] = [];
  const flush = (): void => {
    const writes = batch.splice(0);
    sql?.atomically(() => {
      for (const w of writes) w.apply();
    });
    for (const w of writes) w.resolve();
  };
  return (apply) => {
    if (sql === undefined) return undefined;
    if (!grouped) {
      sql.atomically(apply);
      return undefined;
    }
    return new Promise((resolve) => {
      if (batch.length === 0) setImmediate(flush);
      batch.push({ apply, resolve });
    });
  };
}

/** The SQLite side: our store's pragmas, table and statements. */
export interface Table {
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

export async function openTable(dir: string, fsync: boolean): Promise<Table> {
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
export function encodeFrames(frames: readonly Buffer[]): Buffer {
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

export function decodeFrames(blob: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let at = 0; at + 4 <= blob.length;) {
    const length = blob.readUInt32BE(at);
    frames.push(Buffer.from(blob.subarray(at + 4, at + 4 + length)));
    at += 4 + length;
  }
  return frames;
}
