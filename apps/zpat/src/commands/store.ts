/**
 * zpat store backup|restore|info: copies of the Titanic and Clone SQLite stores (`inspect` is
 * another name for `info`).
 *
 *   zpat store backup --data-dir /var/lib/titanic --out /backups/titanic-2026-12-01.sqlite
 *   zpat store restore --from /backups/titanic-2026-12-01.sqlite --data-dir /var/lib/titanic --force
 *   zpat store info --data-dir /var/lib/clonesrv
 *
 * A running titanic or clonesrv holds its database with an exclusive lock (so that two daemons
 * can never share a data directory), so these commands work on a stopped daemon's directory and
 * say so when the store is in use. The copy goes through SQLite's backup API: it includes what
 * the write-ahead log holds after a crash, is checked with `PRAGMA integrity_check`, and is
 * written beside its destination and renamed into place, so a failed copy never leaves half a file.
 */
import { chownSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import process from 'node:process';
import { EXIT_FAILURE } from '@zpatterns/app-kit';
import { toError } from '@zpatterns/core';
import type Database from 'better-sqlite3';
import type { Command } from 'commander';
import { groupCommand, required, zpatCommand } from '../options.js';

/** better-sqlite3, loaded when a store command runs rather than for every zpat command. */
let sqlite: typeof Database | undefined;

function openDatabase(path: string, options: Database.Options): Database.Database {
  if (sqlite === undefined) throw new Error('better-sqlite3 is not loaded');
  return new sqlite(path, options);
}

/** The two stores, by the file each daemon keeps in its data directory. */
const STORES = {
  titanic: { file: 'titanic.sqlite', tables: ['requests'] },
  clone: { file: 'clone.db', tables: ['kv', 'meta'] },
} as const;
type StoreKind = keyof typeof STORES;

class StoreCommandError extends Error {
  constructor(
    message: string,
    readonly exitCode = EXIT_FAILURE,
  ) {
    super(message);
  }
}

/** Which store a data directory holds. */
function storeIn(dataDir: string): { kind: StoreKind; path: string } {
  const found = (Object.keys(STORES) as StoreKind[]).filter((k) => existsSync(join(dataDir, STORES[k].file)));
  if (found.length === 0) {
    throw new StoreCommandError(`${dataDir} holds no store (neither ${STORES.titanic.file} nor ${STORES.clone.file})`);
  }
  if (found.length > 1) throw new StoreCommandError(`${dataDir} holds both a Titanic and a Clone store`);
  const kind = found[0] as StoreKind;
  return { kind, path: join(dataDir, STORES[kind].file) };
}

/** Which store a database file is, from its tables. */
function kindOf(db: Database.Database, path: string): StoreKind {
  const tables = new Set(
    db
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .all()
      .map((r) => r.name),
  );
  for (const kind of Object.keys(STORES) as StoreKind[]) {
    if (STORES[kind].tables.every((t) => tables.has(t))) return kind;
  }
  throw new StoreCommandError(`${path} is neither a Titanic nor a Clone store`);
}

/** Open a store file, failing with a clear message while a daemon holds it. */
function openStore(path: string): Database.Database {
  let db: Database.Database;
  try {
    db = openDatabase(path, { fileMustExist: true, timeout: 0 });
  } catch (err) {
    throw new StoreCommandError(`cannot open ${path}: ${toError(err).message}`);
  }
  try {
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY') === true) {
      throw new StoreCommandError(
        `${path} is in use: a running daemon holds it with an exclusive lock; stop the daemon first`,
      );
    }
    throw new StoreCommandError(`cannot read ${path}: ${toError(err).message}`);
  }
  return db;
}

/** Schema version, integrity, and what the store holds. */
function describe(db: Database.Database, path: string): Record<string, unknown> {
  const integrity = db.pragma('integrity_check', { simple: true }) as string;
  if (integrity !== 'ok') throw new StoreCommandError(`${path} failed its integrity check: ${integrity}`);
  const kind = kindOf(db, path);
  const schema = db.pragma('user_version', { simple: true }) as number;
  if (kind === 'titanic') {
    const counts = db
      .prepare<[], { pending: number | null; replied: number | null }>(
        'SELECT SUM(reply IS NULL) AS pending, SUM(reply IS NOT NULL) AS replied FROM requests',
      )
      .get();
    return { store: kind, schema, integrity, pending: counts?.pending ?? 0, replied: counts?.replied ?? 0 };
  }
  const keys = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM kv').get()?.n ?? 0;
  const sequence = db.prepare<[], { value: number }>("SELECT value FROM meta WHERE name = 'sequence'").get()?.value;
  return { store: kind, schema, integrity, keys, sequence: sequence ?? 0 };
}

/** Copy `db` to `target` through a temporary file beside it, renamed in once complete and checked. */
async function copyInto(db: Database.Database, target: string): Promise<Record<string, unknown>> {
  const partial = join(dirname(target), `.${basename(target)}.partial`);
  rmSync(partial, { force: true });
  try {
    await db.backup(partial);
    const copy = openDatabase(partial, { fileMustExist: true });
    let info: Record<string, unknown>;
    try {
      info = describe(copy, partial);
      // A single self-contained file: no write-ahead log beside it.
      copy.pragma('journal_mode = DELETE');
    } finally {
      copy.close();
    }
    renameSync(partial, target);
    return info;
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
}

async function backup(flags: { dataDir: string; out: string; force: boolean }): Promise<Record<string, unknown>> {
  const { path } = storeIn(flags.dataDir);
  if (existsSync(flags.out) && !flags.force) {
    throw new StoreCommandError(`${flags.out} exists (--force replaces it)`);
  }
  const db = openStore(path);
  try {
    mkdirSync(dirname(flags.out), { recursive: true });
    return { backup: flags.out, from: path, ...(await copyInto(db, flags.out)) };
  } finally {
    db.close();
  }
}

async function restore(flags: { from: string; dataDir: string; force: boolean }): Promise<Record<string, unknown>> {
  const source = openStore(flags.from);
  try {
    const kind = kindOf(source, flags.from);
    const target = join(flags.dataDir, STORES[kind].file);
    if (existsSync(target)) {
      if (!flags.force) throw new StoreCommandError(`${target} exists (--force replaces it)`);
      // Refuses while a daemon holds it.
      openStore(target).close();
    }
    mkdirSync(flags.dataDir, { recursive: true });
    const info = await copyInto(source, join(flags.dataDir, `.${STORES[kind].file}.restored`));
    // A write-ahead log left by the replaced store must not be replayed onto the restored one.
    for (const suffix of ['-wal', '-shm']) rmSync(`${target}${suffix}`, { force: true });
    renameSync(join(flags.dataDir, `.${STORES[kind].file}.restored`), target);
    // Run as root into a service's directory (systemd's DynamicUser): the file gets that owner.
    if (process.getuid?.() === 0) {
      const owner = statSync(flags.dataDir);
      chownSync(target, owner.uid, owner.gid);
    }
    return { restored: target, from: flags.from, ...info };
  } finally {
    source.close();
  }
}

function info(flags: { dataDir: string }): Record<string, unknown> {
  const { path } = storeIn(flags.dataDir);
  const db = openStore(path);
  try {
    return { path, ...describe(db, path) };
  } finally {
    db.close();
  }
}

async function run(
  command: string,
  action: () => Record<string, unknown> | Promise<Record<string, unknown>>,
): Promise<void> {
  try {
    sqlite ??= (await import('better-sqlite3')).default;
    process.stdout.write(`${JSON.stringify(await action())}\n`);
  } catch (err) {
    const code = err instanceof StoreCommandError ? err.exitCode : EXIT_FAILURE;
    process.stderr.write(`zpat store ${command}: ${toError(err).message}\n`);
    process.exitCode = code;
  }
}

export function registerStoreCommands(program: Command): void {
  const store = groupCommand(
    program
      .command('store')
      .description("back up, restore and check (info) a stopped titanic's or clonesrv's SQLite store"),
  );
  zpatCommand(
    store
      .command('backup')
      .description('copy the store in --data-dir to --out, checked (the daemon must be stopped)')
      .requiredOption('--data-dir <dir>', required("the daemon's --data-dir"))
      .requiredOption('--out <file>', required('the backup file to write'))
      .option('--force', 'replace --out if it exists', false),
  ).action((flags: { dataDir: string; out: string; force: boolean }) => run('backup', () => backup(flags)));
  zpatCommand(
    store
      .command('restore')
      .description('put a backup in --data-dir, for a daemon started afterwards')
      .requiredOption('--from <file>', required('a file written by zpat store backup'))
      .requiredOption('--data-dir <dir>', required("the daemon's --data-dir"))
      .option('--force', 'replace the store already in --data-dir', false),
  ).action((flags: { from: string; dataDir: string; force: boolean }) => run('restore', () => restore(flags)));
  zpatCommand(
    store
      .command('info')
      .alias('inspect')
      .description(
        'print the store in --data-dir as one JSON line: path, kind, schema version, integrity (PRAGMA integrity_check) and contents',
      )
      .requiredOption('--data-dir <dir>', required("the daemon's --data-dir")),
  ).action((flags: { dataDir: string }) => run('info', () => info(flags)));
}
