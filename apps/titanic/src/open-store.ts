/**
 * The daemon's store, as its flags say: SQLite in `--data-dir` (the default; `--no-fsync`:
 * synchronous=NORMAL), PostgreSQL with `--store postgres://...`, or in memory with `--store memory:`
 * (not durable). Returns it started (PostgreSQL, SQLite) or ready to start (memory, which
 * `TitanicServer.start()` starts), with what the ready line says about it.
 */
import type { Logger } from '@zpatterns/core';
import { MemoryStore, PostgresStore, SqliteStore, type PostgresSettings, type TitanicStore } from '@zpatterns/titanic';
import { MEMORY_STORE, type TitanicFlags } from './flags.js';

/**
 * Open the store of `flags`. On a failure, `onFailure()` runs (closing what the daemon opened before)
 * and the error is thrown.
 */
export async function openStore(
  flags: TitanicFlags,
  inMemory: boolean,
  logger: Logger,
  onFailure: () => Promise<unknown>,
): Promise<{ store: TitanicStore; storeReady: Record<string, unknown> }> {
  let store: TitanicStore;
  let storeReady: Record<string, unknown>;
  if (inMemory) {
    store = new MemoryStore();
    storeReady = { store: MEMORY_STORE, durable: false };
  } else if (flags.store === undefined) {
    let sqlite: SqliteStore;
    try {
      sqlite = await SqliteStore.start({ dataDir: flags.dataDir, fsync: flags.fsync });
    } catch (err) {
      await onFailure();
      throw err;
    }
    store = sqlite;
    const settings = sqlite.settings();
    storeReady = {
      dataDir: flags.dataDir,
      store: sqlite.path,
      journalMode: settings.journalMode,
      synchronous: settings.synchronous,
    };
  } else {
    let pg: PostgresStore;
    try {
      pg = await PostgresStore.start({ url: flags.store, logger });
      store = pg;
    } catch (err) {
      await onFailure();
      throw err;
    }
    let settings: PostgresSettings;
    try {
      settings = await pg.settings();
    } catch (err) {
      await store.close();
      await onFailure();
      throw err;
    }
    storeReady = {
      store: redact(flags.store),
      leaseMs: flags.leaseMs,
      synchronousCommit: settings.synchronousCommit,
      fsync: settings.fsync,
      synchronousStandbyNames: settings.synchronousStandbyNames,
    };
  }
  return { store, storeReady };
}

/** The URL without its password, for logs and the ready line. */
function redact(value: string): string {
  const url = new URL(value);
  if (url.password !== '') url.password = '***';
  return url.toString();
}
