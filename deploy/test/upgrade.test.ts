/**
 * The upgrade rule of docs/operations.md: a daemon opens a store of its own schema version or an
 * older one (and brings it forward), and refuses, at start, a store written by a newer version,
 * so a downgrade never reads a schema it does not know. Shown by stamping a store with a version
 * one above the daemon's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { appBin, Daemon, freePortRange, runCli } from '@zpatterns/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Start the daemon once, so that it creates its store, and stop it. */
async function createStore(bin: string, args: string[]): Promise<void> {
  const daemon = await Daemon.start({ bin: appBin(bin), args: [...args, '--log-level', 'info'] });
  expect(await daemon.stop()).toEqual({ code: 0, signal: null });
}

describe.each([
  {
    daemon: 'titanic',
    file: 'titanic.sqlite',
    args: (dir: string, port: number) => ['--broker', `tcp://127.0.0.1:${port}`, '--data-dir', dir],
    refusal: /has schema version (\d+); this Titanic knows (\d+)/,
  },
  {
    daemon: 'clonesrv',
    file: 'clone.db',
    args: (dir: string, port: number) => ['--port', String(port), '--data-dir', dir],
    refusal: /has schema (\d+); this clonesrv knows up to (\d+)/,
  },
])('$daemon store schema', ({ daemon, file, args, refusal }) => {
  it('a store from a newer version is refused at start, untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), `zpat-upgrade-${daemon}-`));
    dirs.push(dir);
    const port = await freePortRange(3);
    await createStore(daemon, args(dir, port));
    const db = new Database(join(dir, file));
    const known = db.pragma('user_version', { simple: true }) as number;
    expect(known).toBeGreaterThanOrEqual(1);
    db.pragma(`user_version = ${known + 1}`);
    db.close();

    const run = await runCli(appBin(daemon), [...args(dir, port), '--log-level', 'info']);
    expect(run.code).toBe(1);
    // The refusal is the one start-up failure line on stderr.
    const lines = run.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    const match = refusal.exec(lines[0] ?? '');
    expect(match?.slice(1)).toEqual([String(known + 1), String(known)]);

    // zpat store info reports the version too, and the file was not rewritten.
    const info = await runCli(appBin('zpat'), ['store', 'info', '--data-dir', dir]);
    expect(JSON.parse(info.stdout)).toMatchObject({ schema: known + 1 });
  });
});
