/**
 * The durable copy of a Clone server's map: SQLite (better-sqlite3, the store Titanic uses) in
 * `dataDir/clone.db`. One row per live key plus the last sequence issued, written one transaction
 * per batch. The server publishes an update only after its batch is committed, so a restart never
 * forgets a published update and never reuses a sequence number.
 *
 * Expiry is kept as wall-clock milliseconds (the server's own clock is monotonic and restarts at
 * zero), so a key's TTL keeps running while the server is down.
 *
 * The database is opened with `locking_mode = EXCLUSIVE`: a second server on the same directory
 * fails at start instead of writing under the first.
 *
 * `better-sqlite3` is an optional peer dependency: it is loaded when a journal is opened, so a
 * process that never sets `dataDir` (a client, a server in memory) never loads it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { JournalError } from './errors.js';
import type { KvMsg } from './kvmsg.js';
import { decodeProperties, encodeProperties } from './kvmsg.js';

/** One journalled change: a live entry (with its wall-clock expiry, 0 = none) or a delete. */
export interface JournalWrite {
  msg: KvMsg;
  expiresAtWallMs: number;
}

export interface JournalContents {
  sequence: bigint;
  entries: { msg: KvMsg; remainingMs: number }[];
}

const SCHEMA_VERSION = 1;

interface Row {
  key: string;
  sequence: bigint;
  uuid: Buffer;
  props: Buffer;
  body: Buffer;
  expires_at: bigint;
}

/** What a server without the driver says. */
export const MISSING_DRIVER = "CloneServer's dataDir needs the better-sqlite3 package: npm install better-sqlite3@12";

let driver: Promise<typeof Database> | undefined;

/** better-sqlite3, imported once; a `JournalError` saying how to install it when it is missing. */
function loadDriver(): Promise<typeof Database> {
  driver ??= import('better-sqlite3').then(
    (module) => module.default,
    (err: unknown) => {
      driver = undefined;
      const code = (err as { code?: unknown } | undefined)?.code;
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
        throw new JournalError(MISSING_DRIVER, { cause: err });
      }
      throw err;
    },
  );
  return driver;
}

export class CloneJournal {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #upsert: Database.Statement;
  readonly #delete: Database.Statement;
  readonly #setSequence: Database.Statement;
  readonly #writeBatch: (writes: readonly JournalWrite[], sequence: bigint) => void;
  readonly #replaceAll: (writes: readonly JournalWrite[], sequence: bigint) => void;

  /**
   * Open (or create) `dataDir/clone.db`. Rejects with `JournalError` when better-sqlite3 is not
   * installed or the file was written by a newer version; with SQLite's error when it is locked
   * by another server or unreadable.
   */
  static async open(dataDir: string, options: { fsync?: boolean } = {}): Promise<CloneJournal> {
    const Driver = await loadDriver();
    mkdirSync(dataDir, { recursive: true });
    const path = join(dataDir, 'clone.db');
    return new CloneJournal(path, new Driver(path, { timeout: 0 }), options);
  }

  private constructor(path: string, db: Database.Database, options: { fsync?: boolean }) {
    this.path = path;
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.fsync === true ? 'FULL' : 'NORMAL'}`);
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new JournalError(`${this.path} has schema ${version}; this clonesrv knows up to ${SCHEMA_VERSION}`);
      }
      if (version < 1) {
        db.exec(`
          CREATE TABLE IF NOT EXISTS kv (
            key TEXT PRIMARY KEY,
            sequence INTEGER NOT NULL,
            uuid BLOB NOT NULL,
            props BLOB NOT NULL,
            body BLOB NOT NULL,
            expires_at INTEGER NOT NULL
          ) WITHOUT ROWID;
          CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
          INSERT OR IGNORE INTO meta (name, value) VALUES ('sequence', 0);
          PRAGMA user_version = 1;
        `);
      }
      // Take the exclusive lock now, not at the first write.
      db.exec('BEGIN IMMEDIATE; COMMIT;');
    } catch (err) {
      db.close();
      throw err;
    }
    db.defaultSafeIntegers(true);
    this.#db = db;
    this.#upsert = db.prepare(
      `INSERT INTO kv (key, sequence, uuid, props, body, expires_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET sequence = excluded.sequence, uuid = excluded.uuid,
         props = excluded.props, body = excluded.body, expires_at = excluded.expires_at`,
    );
    this.#delete = db.prepare('DELETE FROM kv WHERE key = ?');
    this.#setSequence = db.prepare("UPDATE meta SET value = ? WHERE name = 'sequence'");
    const apply = (writes: readonly JournalWrite[], sequence: bigint): void => {
      for (const { msg, expiresAtWallMs } of writes) {
        if (msg.body.length === 0) this.#delete.run(msg.key);
        else {
          this.#upsert.run(
            msg.key,
            msg.sequence,
            msg.uuid,
            encodeProperties(msg.properties),
            msg.body,
            BigInt(Math.round(expiresAtWallMs)),
          );
        }
      }
      this.#setSequence.run(sequence);
    };
    this.#writeBatch = db.transaction(apply);
    this.#replaceAll = db.transaction((writes: readonly JournalWrite[], sequence: bigint) => {
      db.exec('DELETE FROM kv');
      apply(writes, sequence);
    });
  }

  /** Everything stored: the sequence and the live entries, with the TTL left at `wallNowMs`. */
  load(wallNowMs = Date.now()): JournalContents {
    const meta = this.#db.prepare("SELECT value FROM meta WHERE name = 'sequence'").get() as
      { value: bigint } | undefined;
    const entries: JournalContents['entries'] = [];
    for (const row of this.#db.prepare('SELECT * FROM kv').iterate() as IterableIterator<Row>) {
      const expiresAt = Number(row.expires_at);
      entries.push({
        msg: {
          key: row.key,
          sequence: row.sequence,
          uuid: row.uuid,
          properties: decodeProperties(row.props),
          body: row.body,
        },
        // An entry already past its expiry gets 1 ms, so the first flush deletes and publishes it.
        remainingMs: expiresAt === 0 ? 0 : Math.max(1, expiresAt - wallNowMs),
      });
    }
    return { sequence: meta?.value ?? 0n, entries };
  }

  /** Commit one batch of changes and the sequence they reach, in one transaction. */
  write(writes: readonly JournalWrite[], sequence: bigint): void {
    this.#writeBatch(writes, sequence);
  }

  /** Replace the whole map (a passive server taking its peer's snapshot). */
  replace(writes: readonly JournalWrite[], sequence: bigint): void {
    this.#replaceAll(writes, sequence);
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
