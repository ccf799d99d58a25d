/**
 * The backup and restore procedure of docs/operations.md, with real processes, while clients keep
 * writing: stop the daemon, `zpat store backup`, start it again; later `zpat store restore` into a
 * fresh data directory and start a fresh daemon on it. Everything acknowledged before the backup
 * began (a Titanic "200" with its UUID; a Clone `commit()` with its sequence) is in the restored
 * daemon, and the writers went on through the stop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloneClient } from '@zpatterns/clone';
import { TitanicClient } from '@zpatterns/titanic';
import { appBin, Daemon, eventually, onFreePortRange, runCli, useDisposables } from '@zpatterns/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const { track, defer } = useDisposables();
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'zpat-backup-'));
  dirs.push(dir);
  return dir;
}

const zpat = (args: string[]): ReturnType<typeof runCli> => runCli(appBin('zpat'), ['store', ...args]);

/** Resolves once `condition()` holds, checking on every `tick` of the load. */
function until(condition: () => boolean, ticks: Set<() => void>): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!condition()) return;
      ticks.delete(check);
      resolve();
    };
    ticks.add(check);
    check();
  });
}

describe('titanic: backup under load, restore into a fresh daemon', () => {
  it('keeps every request acknowledged before the backup began', async () => {
    const heartbeat = ['--heartbeat-ms', '250'];
    const broker = track(
      await Daemon.start({ bin: appBin('mdbroker'), args: ['--bind', 'tcp://127.0.0.1:*', ...heartbeat] }),
    );
    const endpoint = (broker.ready['endpoints'] as string[])[0] as string;
    const dataDir = join(tempDir(), 'titanic');
    const titanic = track(
      await Daemon.start({
        bin: appBin('titanic'),
        args: ['--broker', endpoint, '--data-dir', dataDir, ...heartbeat, '--log-level', 'info'],
      }),
    );

    // Load: 8 submitters, each retrying until its submission is acknowledged. No worker for the
    // service, so every request stays pending in the store.
    // TitanicClient.closeRequest(uuid) is the TSP call; close() releases the client.
    const client = await TitanicClient.start({ broker: endpoint, attemptTimeoutMs: 1000, retries: 0, maxSockets: 16 });
    defer(() => client.close());
    const acknowledged: string[] = [];
    const ticks = new Set<() => void>();
    let stopping = false;
    const submitter = async (id: number): Promise<void> => {
      for (let n = 0; !stopping; n++) {
        try {
          acknowledged.push(await client.submit('backup.test', `s${id}-${n}`));
          for (const tick of [...ticks]) tick();
        } catch {
          // Not acknowledged (Titanic is stopped, or the call timed out): not counted, try again.
        }
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, (_, i) => submitter(i)));

    try {
      await until(() => acknowledged.length >= 300, ticks);
      // A running daemon's store is locked: the tool says so and writes nothing.
      const refused = await zpat(['backup', '--data-dir', dataDir, '--out', join(tempDir(), 'early.sqlite')]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/in use: a running daemon holds it/);

      // The procedure: stop, back up, start. Submissions meanwhile wait at the broker or retry.
      const before = new Set(acknowledged);
      expect(await titanic.stop(15_000)).toEqual({ code: 0, signal: null });
      const backupFile = join(tempDir(), 'titanic.sqlite');
      const backup = await zpat(['backup', '--data-dir', dataDir, '--out', backupFile]);
      expect(backup.stderr).toBe('');
      expect(backup.code).toBe(0);
      const written = JSON.parse(backup.stdout) as { store: string; schema: number; pending: number };
      expect(written).toMatchObject({ store: 'titanic', schema: 1 });
      expect(written.pending).toBeGreaterThanOrEqual(before.size);
      await titanic.restart();
      // The load goes on after the restart.
      const resumedAt = acknowledged.length;
      await until(() => acknowledged.length >= resumedAt + 200, ticks);
      stopping = true;
      await load;

      // Restore into a fresh directory and start a fresh daemon (its own broker) on it.
      const restoredDir = join(tempDir(), 'restored');
      const restore = await zpat(['restore', '--from', backupFile, '--data-dir', restoredDir]);
      expect(restore.stderr).toBe('');
      expect(restore.code).toBe(0);
      const fresh = track(
        await Daemon.start({
          bin: appBin('titanic'),
          args: ['--with-broker', '--broker', 'tcp://127.0.0.1:*', '--data-dir', restoredDir, '--log-level', 'info'],
        }),
      );
      expect(fresh.ready['recovered']).toBe(written.pending);
      const reader = await TitanicClient.start({ broker: String(fresh.ready['broker']), attemptTimeoutMs: 5000 });
      defer(() => reader.close());
      const missing: string[] = [];
      for (const uuid of before) {
        const found = await reader.poll(uuid);
        if (found.status !== 'pending') missing.push(`${uuid}: ${found.status}`);
      }
      expect(missing).toEqual([]);
      expect(before.size).toBeGreaterThanOrEqual(300);
    } finally {
      stopping = true;
      await load;
    }
  }, 120_000);
});

describe('clonesrv: backup under load, restore into a fresh daemon', () => {
  it('keeps every key committed before the backup began', async () => {
    const dataDir = join(tempDir(), 'clone');
    const start = (dir: string): Promise<Daemon> =>
      // A port taken between the check and the bind fails the start with "Address already in use"
      // in the daemon's output, and onFreePortRange tries another range.
      onFreePortRange(3, (port) =>
        Daemon.start({
          bin: appBin('clonesrv'),
          args: ['--port', String(port), '--data-dir', dir, '--hugz-ms', '200', '--log-level', 'info'],
        }),
      );
    const server = track(await start(dataDir));
    const snapshot = String(server.ready['snapshot']);

    // Load: 4 writers, each committing fresh keys; committed = the server sequenced it.
    const writer = track(new CloneClient({ servers: [snapshot], peerTtlMs: 1000, timeoutMs: 1000 }));
    await writer.start();
    const committed = new Map<string, string>();
    const ticks = new Set<() => void>();
    let stopping = false;
    const commitLoop = async (id: number): Promise<void> => {
      for (let n = 0; !stopping; n++) {
        const key = `/load/${id}/${n}`;
        const value = `v-${id}-${n}`;
        try {
          await writer.commit(key, value);
          committed.set(key, value);
          for (const tick of [...ticks]) tick();
        } catch {
          // Not acknowledged (the server is stopped): not counted, the next key goes on.
        }
      }
    };
    const load = Promise.all(Array.from({ length: 4 }, (_, i) => commitLoop(i)));
    try {
      await until(() => committed.size >= 500, ticks);
      const before = new Map(committed);
      expect(await server.stop(15_000)).toEqual({ code: 0, signal: null });
      const backupFile = join(tempDir(), 'clone.db');
      const backup = await zpat(['backup', '--data-dir', dataDir, '--out', backupFile]);
      expect(backup.stderr).toBe('');
      expect(backup.code).toBe(0);
      const written = JSON.parse(backup.stdout) as { store: string; keys: number };
      expect(written.store).toBe('clone');
      expect(written.keys).toBeGreaterThanOrEqual(before.size);
      await server.restart();
      const resumedAt = committed.size;
      await until(() => committed.size >= resumedAt + 200, ticks);
      stopping = true;
      await load;

      const restoredDir = join(tempDir(), 'clone-restored');
      const restore = await zpat(['restore', '--from', backupFile, '--data-dir', restoredDir]);
      expect(restore.stderr).toBe('');
      expect(restore.code).toBe(0);
      const fresh = track(await start(restoredDir));
      expect(fresh.ready['keys']).toBe(written.keys);
      const reader = track(new CloneClient({ servers: [String(fresh.ready['snapshot'])] }));
      await reader.start();
      await eventually(() => expect(reader.entries().length).toBe(written.keys));
      const wrong: string[] = [];
      for (const [key, value] of before) {
        if (reader.get(key)?.toString() !== value) wrong.push(key);
      }
      expect(wrong).toEqual([]);
    } finally {
      stopping = true;
      await load;
    }
  }, 120_000);
});
