/**
 * The SQLite store's database: opening it (exclusive lock, WAL, `synchronous = FULL`), its schema
 * and the statements the store runs.
 *
 *   requests(seq INTEGER PRIMARY KEY,      arrival order (rowid)
 *            uuid TEXT UNIQUE,             32 upper-case hex characters
 *            service BLOB, body BLOB,      body: length-prefixed frames; emptied once replied
 *            reply BLOB,                   NULL while pending
 *            created_ms, replied_ms)
 *   partial index on seq WHERE reply IS NULL: recovery reads pending requests in order without
 *   scanning replied ones; partial index on replied_ms WHERE reply IS NOT NULL: the retention
 *   sweep deletes abandoned replies without a scan.
 */
import { mkdirSync } from 'node:fs';
import { TitanicStoreError } from './errors.js';
import { prepare, type SqliteDatabase, type SqliteDatabaseClass, type SqliteStatement } from './sqlite-driver.js';
import { encodeFrames, type StoreWrite } from './store.js';

/** The schema version this release writes (`PRAGMA user_version`). */
export const SQLITE_SCHEMA_VERSION = 1;

/** The statements of an open store. */
export interface SqliteStatements {
  readonly get: SqliteStatement<[string], { reply: Buffer | null }>;
  readonly getRequest: SqliteStatement<[string], { service: Buffer; body: Buffer; reply: Buffer | null }>;
  readonly pendingPage: SqliteStatement<[number, number], { seq: number; uuid: string; service: Buffer }>;
  readonly counts: SqliteStatement<[], { pending: number | null; replied: number | null }>;
  readonly expire: SqliteStatement<[number, number]>;
  /** Applies a batch in one transaction (one fsync). */
  readonly apply: (batch: readonly StoreWrite[]) => void;
}

/**
 * Opens (creating if needed) `dataDir` (owner only: the store holds request bodies, replies and
 * their UUIDs, which are bearer tokens), the database at `path` in it and its schema. `locking_mode = EXCLUSIVE`:
 * a second process on the same file fails here instead of corrupting the other's view (the OS
 * releases the lock when a process dies, even by SIGKILL). Throws `TitanicStoreError` when the
 * file is locked, unreadable or of a newer schema.
 */
export function openSqlite(
  Database: SqliteDatabaseClass,
  dataDir: string,
  path: string,
  fsync: boolean,
): SqliteDatabase {
  let db: SqliteDatabase | undefined;
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    db = new Database(path, { timeout: 0 });
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${fsync ? 'FULL' : 'NORMAL'}`);
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SQLITE_SCHEMA_VERSION) {
      throw new TitanicStoreError(`${path} has schema version ${version}; this Titanic knows ${SQLITE_SCHEMA_VERSION}`);
    }
    db.exec(`
      CREATE TABLE IF NOT EXISTS requests (
        seq INTEGER PRIMARY KEY,
        uuid TEXT NOT NULL UNIQUE,
        service BLOB NOT NULL,
        body BLOB NOT NULL,
        reply BLOB,
        created_ms INTEGER NOT NULL,
        replied_ms INTEGER
      );
      CREATE INDEX IF NOT EXISTS requests_pending ON requests (seq) WHERE reply IS NULL;
      CREATE INDEX IF NOT EXISTS requests_replied ON requests (replied_ms) WHERE reply IS NOT NULL;
      PRAGMA user_version = ${SQLITE_SCHEMA_VERSION};
    `);
    return db;
  } catch (err) {
    db?.close();
    throw new TitanicStoreError(`cannot open the Titanic store at ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Prepares the statements of the store on `db`. */
export function prepareStatements(db: SqliteDatabase): SqliteStatements {
  const insert = prepare<[string, Buffer, Buffer, number]>(
    db,
    'INSERT OR IGNORE INTO requests (uuid, service, body, created_ms) VALUES (?, ?, ?, ?)',
  );
  const reply = prepare<[Buffer, number, string]>(
    db,
    "UPDATE requests SET reply = ?, body = x'', replied_ms = ? WHERE uuid = ? AND reply IS NULL",
  );
  const remove = prepare<[string]>(db, 'DELETE FROM requests WHERE uuid = ?');
  return {
    get: prepare(db, 'SELECT reply FROM requests WHERE uuid = ?'),
    getRequest: prepare(db, 'SELECT service, body, reply FROM requests WHERE uuid = ?'),
    pendingPage: prepare(
      db,
      'SELECT seq, uuid, service FROM requests WHERE reply IS NULL AND seq > ? ORDER BY seq LIMIT ?',
    ),
    counts: prepare(db, 'SELECT SUM(reply IS NULL) AS pending, SUM(reply IS NOT NULL) AS replied FROM requests'),
    expire: prepare(
      db,
      `DELETE FROM requests WHERE seq IN
         (SELECT seq FROM requests WHERE reply IS NOT NULL AND replied_ms < ? LIMIT ?)`,
    ),
    apply: db.transaction((batch: readonly StoreWrite[]) => {
      const now = Date.now();
      for (const w of batch) {
        switch (w.type) {
          case 'request':
            insert.run(w.uuid, w.service, encodeFrames(w.body), now);
            break;
          case 'reply':
            reply.run(encodeFrames(w.body), now, w.uuid);
            break;
          case 'close':
            remove.run(w.uuid);
            break;
        }
      }
    }),
  };
}
