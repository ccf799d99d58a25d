/**
 * A throwaway PostgreSQL cluster for tests and benches: `initdb` into a fresh temp dir, `pg_ctl
 * start` listening only on a unix socket inside that dir (no TCP port, so no port clash with
 * anything), `stop()` kills it and removes the dir.
 *
 * - When `pg_ctl`/`initdb` are missing and we run as root (CI), PostgreSQL is installed with
 *   `apt-get update && apt-get install -y postgresql`. As a normal user we say what to install.
 * - PostgreSQL refuses to run as root: as root the cluster runs as the `postgres` system user
 *   (created when missing) through `runuser`; as any other user it runs as that user.
 * - The cluster is initialised with `--no-sync` and runs with `fsync=off`: the tests kill Titanic
 *   and restart PostgreSQL, never the machine, so what PostgreSQL has written to the OS survives
 *   them; fsync would only cost start-up and commit time. Never run a real store like this.
 *
 * - A cluster does not outlive the process that started it: a run killed before its teardown (a
 *   timeout, ^C) would leave it running. A detached shell watches that process and, once it is
 *   gone, stops the cluster and removes its dir; `stop()` ends that watcher first.
 *
 * Self-contained (node built-ins only) so that vitest's globalSetup can load this source file
 * before anything is built; tests and the bench import it from `@zpatterns/testkit`.
 */
import { execFile as execFileCb, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFile = promisify(execFileCb);

export interface PostgresCluster {
  /** Connection URL for node-postgres: `postgres://postgres@<socket dir>/postgres`. */
  readonly url: string;
  /** The temp dir holding the data directory, the socket and the server log. */
  readonly dir: string;
  /** Stops the server (`-m fast`) and starts it again on the same data. */
  restart(): Promise<void>;
  /**
   * Crashes the server (`-m immediate`: every backend killed, no checkpoint, crash recovery from
   * the WAL at the next start) and starts it again on the same data.
   */
  crash(): Promise<void>;
  /** Stops the server (`-m fast`), keeping its data: the database is down until `resume()`. */
  halt(): Promise<void>;
  /** Starts the server again after `halt()`. */
  resume(): Promise<void>;
  /** Stops the server (immediate) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function onPath(cmd: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, cmd))) return dir;
  }
  return undefined;
}

/** The directory holding `pg_ctl` and `initdb`, or undefined. Debian's newest version wins. */
function findBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => existsSync(join(base, v, 'bin', 'pg_ctl')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(base, versions[0], 'bin');
  }
  const dir = onPath('pg_ctl');
  return dir !== undefined && existsSync(join(dir, 'initdb')) ? dir : undefined;
}

async function ensureInstalled(): Promise<string> {
  const found = findBinDir();
  if (found !== undefined) return found;
  if (!isRoot()) {
    throw new Error('PostgreSQL (pg_ctl, initdb) not found: install it, e.g. `sudo apt-get install postgresql`');
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await execFile('apt-get', ['update'], { env, maxBuffer: 64 * 1024 * 1024 });
  await execFile('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql'], {
    env,
    maxBuffer: 64 * 1024 * 1024,
  });
  const installed = findBinDir();
  if (installed === undefined) throw new Error('apt-get installed postgresql but pg_ctl was not found');
  return installed;
}

/** As root: the `postgres` system user (created when missing). Otherwise: run as ourselves. */
async function serverUser(): Promise<{ name: string; uid: number; gid: number } | undefined> {
  if (!isRoot()) return undefined;
  const id = async (flag: string): Promise<number> => Number((await execFile('id', [flag, 'postgres'])).stdout.trim());
  try {
    return { name: 'postgres', uid: await id('-u'), gid: await id('-g') };
  } catch {
    await execFile('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
    return { name: 'postgres', uid: await id('-u'), gid: await id('-g') };
  }
}

/** Starts a throwaway cluster. Throws with PostgreSQL's own message when it cannot. */
export async function startPostgres(): Promise<PostgresCluster> {
  const bin = await ensureInstalled();
  const user = await serverUser();
  // Short path: the socket path must stay under ~107 bytes.
  const dir = await mkdtemp(join(tmpdir(), 'zpg-'));
  if (user !== undefined) await chown(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  const command = (cmd: string, args: string[]): [string, string[]] =>
    user === undefined ? [join(bin, cmd), args] : ['runuser', ['-u', user.name, '--', join(bin, cmd), ...args]];
  const run = async (cmd: string, args: string[]): Promise<void> => {
    const [file, argv] = command(cmd, args);
    await execFile(file, argv, { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
  };
  const serverOptions = [
    "-c listen_addresses=''",
    `-c unix_socket_directories=${dir}`,
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c max_connections=200',
  ].join(' ');
  const start = (): Promise<void> =>
    run('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '30', '-o', serverOptions, 'start']);

  let stopped = false;
  try {
    await run('initdb', ['-D', data, '--no-sync', '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C']);
    await start();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const watcher = watchOwner(dir, command('pg_ctl', ['-D', data, '-w', '-m', 'immediate', 'stop']));
  return {
    url: `postgres://postgres@${encodeURIComponent(dir)}/postgres`,
    dir,
    async restart() {
      await run('pg_ctl', ['-D', data, '-w', '-m', 'fast', 'stop']);
      await start();
    },
    async crash() {
      await run('pg_ctl', ['-D', data, '-w', '-m', 'immediate', 'stop']);
      await start();
    },
    async halt() {
      await run('pg_ctl', ['-D', data, '-w', '-m', 'fast', 'stop']);
    },
    async resume() {
      await start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      endWatcher(watcher);
      try {
        await run('pg_ctl', ['-D', data, '-w', '-m', 'immediate', 'stop']);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * A detached shell that waits for this process to end, then runs `stop` (the cluster's immediate
 * stop) and removes `dir`: the cleanup of a run killed before its teardown.
 */
function watchOwner(dir: string, [file, args]: [string, string[]]): ChildProcess {
  const script = 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; shift; dir="$1"; shift; "$@"; rm -rf "$dir"';
  const watcher = spawn('sh', ['-c', script, 'pg-watch', String(process.pid), dir, file, ...args], {
    detached: true,
    stdio: 'ignore',
  });
  watcher.unref();
  return watcher;
}

/** End the watcher of `watchOwner` (its shell and its `sleep`): the cluster is stopped in order. */
function endWatcher(watcher: ChildProcess): void {
  if (watcher.pid === undefined || watcher.exitCode !== null) return;
  try {
    process.kill(-watcher.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * The PostgreSQL that the tests use: `ZPATTERNS_PG_URL`, exported by the vitest globalSetup
 * (tools/postgres-setup.ts); undefined when there is none, and the PostgreSQL cases skip. Set it
 * empty (`ZPATTERNS_PG_URL= npx vitest run ...`) to skip them on purpose. Under `CI=true` a
 * missing database is a failure, never a skip.
 */
export function postgresUrl(): string | undefined {
  const url = process.env['ZPATTERNS_PG_URL'];
  if ((url === undefined || url === '') && process.env['CI'] === 'true') {
    throw new Error('ZPATTERNS_PG_URL is not set: the PostgreSQL test cluster did not start');
  }
  return url === '' ? undefined : url;
}
