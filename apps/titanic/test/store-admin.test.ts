/**
 * `titanic pending` and `titanic purge` on both stores (real processes): what is pending by
 * service, and one service's pending requests removed, each UUID printed; the others untouched
 * and still answered once a worker comes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constantBackoff } from '@zpatterns/core';
import { MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, Daemon, runCli, usePostgres } from '@zpatterns/testkit';
import { TitanicClient } from '@zpatterns/titanic';
import { afterAll, describe, expect, it } from 'vitest';

const postgres = usePostgres();
const available = postgres.available;
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const stores: [string, () => string[]][] = [
  [
    'SQLite',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'titanic-admin-'));
      dirs.push(dir);
      return ['--data-dir', join(dir, 'data')];
    },
  ],
];
if (available) stores.push(['PostgreSQL', () => ['--store', postgres.cluster().url]]);

describe('titanic pending / purge (real processes)', () => {
  it.each(stores)(
    'lists pending requests by service and purges one service, on %s',
    async (name, storeArgs) => {
      const store = storeArgs();
      await using titanic = await Daemon.start({
        bin: appBin('titanic'),
        args: ['--with-broker', '--broker', 'tcp://127.0.0.1:*', ...store],
      });
      const broker = titanic.ready['broker'] as string;
      const client = await TitanicClient.start({ broker, attemptTimeoutMs: 5000, retries: 1 });
      try {
        const flooded = await Promise.all(Array.from({ length: 5 }, (_, i) => client.submit('made-up', [`m${i}`])));
        const kept = await Promise.all(Array.from({ length: 2 }, (_, i) => client.submit('later', [`l${i}`])));
        const sqlite = name === 'SQLite';
        if (sqlite) {
          // The SQLite store is the daemon's alone while it runs.
          const busy = await runCli(appBin('titanic'), ['pending', ...store]);
          expect(busy.code).toBe(1);
          expect(busy.stderr).toMatch(/in use .*stop it first/);
          expect(await titanic.stop()).toEqual({ code: 0, signal: null });
        }
        const listed = await runCli(appBin('titanic'), ['pending', ...store]);
        expect(listed.code).toBe(0);
        const lines = listed.stdout.trim().split('\n');
        expect(lines[0]).toMatch(/^SERVICE\s+PENDING\s+OLDEST\s+NEWEST$/);
        expect(lines[1]).toMatch(/^made-up\s+5\s+\d+ s\s+\d+ s$/);
        expect(lines[2]).toMatch(/^later\s+2\s+\d+ s\s+\d+ s$/);

        const purged = await runCli(appBin('titanic'), ['purge', 'made-up', ...store]);
        expect(purged.code).toBe(0);
        const printed = purged.stdout.trim().split('\n');
        expect(printed.at(-1)).toBe('purged 5 pending requests of service "made-up"');
        expect(printed.slice(0, -1).sort()).toEqual([...flooded].sort());
        const after = await runCli(appBin('titanic'), ['pending', ...store]);
        expect(after.stdout.trim().split('\n').slice(1)).toEqual([expect.stringMatching(/^later\s+2\s/)]);
        const none = await runCli(appBin('titanic'), ['purge', 'made-up', ...store]);
        expect(none.stdout.trim()).toBe('purged 0 pending requests of service "made-up"');

        if (sqlite) await titanic.restart();
        const endpoint = titanic.ready['broker'] as string;
        const again = await TitanicClient.start({ broker: endpoint, attemptTimeoutMs: 5000, retries: 1 });
        const worker = new MajordomoWorker({
          broker: endpoint,
          service: 'later',
          reconnectDelay: constantBackoff(100),
          handler: (body) => body,
        });
        await worker.start();
        const served = worker.closed();
        try {
          for (const uuid of flooded) expect((await again.poll(uuid)).status).toBe('unknown');
          const replies = await Promise.all(kept.map((uuid) => again.waitReply(uuid, { timeoutMs: 30_000 })));
          expect(replies.map((r) => r[0]?.toString())).toEqual(['l0', 'l1']);
        } finally {
          await again.close();
          await worker.close();
          await served;
        }
      } finally {
        await client.close();
      }
    },
    90_000,
  );

  it('refuses --store with --data-dir, exit code 2', async () => {
    const result = await runCli(appBin('titanic'), [
      'pending',
      '--data-dir',
      '/nonexistent',
      '--store',
      'postgres://x@y/z',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/exclusive/);
  });
});
