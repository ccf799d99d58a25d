/**
 * The `titanic` daemon and the `zpat titanic` commands as real processes: ready line, exit codes,
 * clean shutdown, and the submit / status / fetch / close round trip.
 *
 *   zpat titanic ... ──> titanic --with-broker (broker + Titanic in one process) <── echo worker (here)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, Daemon, runCli } from '@zpatterns/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const dataDir = mkdtempSync(join(tmpdir(), 'titanic-cli-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('titanic daemon and zpat titanic', () => {
  it('rejects bad flags with exit code 2 and one line on stderr', async () => {
    const run = await runCli(appBin('titanic'), ['--concurrency', 'lots']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/concurrency/);
    for (const [args, message] of [
      [['--store', 'postgres://u@h/db', '--data-dir', dataDir], /--store and --data-dir are exclusive/],
      [['--lease-ms', '1000'], /--lease-ms needs --store/],
      [['--store', 'postgres://u@h/db', '--lease-ms', '2000'], /--lease-ms must be above 2000 \(the shutdown drain\)/],
      [['--claim-interval-ms', '100'], /--claim-interval-ms needs --store/],
      [['--store', 'mysql://u@h/db'], /unsupported store/],
      [['--store', 'not a url'], /not a URL/],
      [['--store', 'postgres://u@h/db', '--no-fsync'], /--no-fsync is for the SQLite store/],
      [['--store', 'memory:', '--claim-interval-ms', '100'], /--claim-interval-ms needs --store/],
    ] as const) {
      const store = await runCli(appBin('titanic'), args);
      expect(store.code).toBe(2);
      expect(store.stderr.trim().split('\n')).toHaveLength(1);
      expect(store.stderr).toMatch(message);
    }
    const bad = await runCli(appBin('zpat'), ['titanic', 'status', 'not-a-uuid']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/32-character hex UUID/);
  });

  it('says in its ready line what the store keeps: memory (nothing durable), SQLite without fsync', async () => {
    const common = ['--with-broker', '--broker', 'tcp://127.0.0.1:*'];
    {
      await using memory = await Daemon.start({ bin: appBin('titanic'), args: [...common, '--store', 'memory:'] });
      expect(memory.ready).toMatchObject({ store: 'memory:', durable: false, recovered: 0 });
    }
    const noSync = mkdtempSync(join(tmpdir(), 'titanic-nofsync-'));
    try {
      await using sqlite = await Daemon.start({
        bin: appBin('titanic'),
        args: [...common, '--data-dir', noSync, '--no-fsync'],
      });
      // synchronous = NORMAL (1) instead of FULL (2)
      expect(sqlite.ready).toMatchObject({ journalMode: 'wal', synchronous: 1 });
    } finally {
      rmSync(noSync, { recursive: true, force: true });
    }
  });

  it('exits 1 with a message when the broker does not answer', async () => {
    const run = await runCli(appBin('zpat'), [
      'titanic',
      'submit',
      'echo',
      'x',
      '--broker',
      'tcp://127.0.0.1:1',
      '--attempt-timeout-ms',
      '200',
      '--retries',
      '0',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/zpat titanic submit: .*tcp:\/\/127\.0\.0\.1:1/);
  });

  it('round trip through the CLI, then a clean shutdown on SIGTERM', async () => {
    await using titanic = await Daemon.start({
      bin: appBin('titanic'),
      args: [
        '--with-broker',
        '--broker',
        'tcp://127.0.0.1:*',
        '--data-dir',
        dataDir,
        '--heartbeat-ms',
        '200',
        '--retry-max-ms',
        '300',
      ],
    });
    const endpoint = (titanic.ready['endpoints'] as string[])[0] as string;
    expect(endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(titanic.ready).toMatchObject({ journalMode: 'wal', recovered: 0 });
    const zpat = (...args: string[]): ReturnType<typeof runCli> =>
      runCli(appBin('zpat'), ['titanic', ...args, '--broker', endpoint]);

    // No worker serves echo yet: refused, unless told to store it for a worker that comes later.
    const refused = await zpat('submit', 'echo', 'hello', 'world');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^zpat titanic submit: no worker serves 'echo': nothing was stored/);
    const submitted = await zpat('submit', 'echo', 'hello', 'world', '--allow-unserved');
    expect(submitted.code).toBe(0);
    const uuid = submitted.stdout.trim();
    expect(uuid).toMatch(/^[0-9A-F]{32}$/);
    expect((await zpat('status', uuid)).stdout.trim()).toBe('pending');
    const notYet = await zpat('fetch', uuid);
    expect(notYet.code).toBe(1);
    expect(notYet.stderr).toMatch(/not ready/);

    const worker = new MajordomoWorker({
      broker: endpoint,
      service: 'echo',
      heartbeatIntervalMs: 200,
      handler: (body) => body,
    });
    await worker.start();
    const served = worker.closed();
    try {
      const fetched = await zpat('fetch', uuid.toLowerCase(), '--wait-ms', '10000');
      expect(fetched.code).toBe(0);
      expect(fetched.stdout).toBe('hello\nworld\n');
      expect((await zpat('status', uuid)).stdout.trim()).toBe('ready');
      expect((await zpat('close', uuid)).code).toBe(0);
      // An unknown request is a failure for status as for fetch: one line on stderr, exit 1.
      const gone = await zpat('status', uuid);
      expect(gone).toMatchObject({ code: 1, stdout: '' });
      expect(gone.stderr).toBe(`zpat titanic status: unknown request ${uuid} (never stored, or closed)\n`);
      const fetchGone = await zpat('fetch', uuid);
      expect(fetchGone.stderr).toBe(`zpat titanic fetch: unknown request ${uuid} (never stored, or closed)\n`);
    } finally {
      await worker.close();
      await served;
    }

    const status = await titanic.stop();
    expect(status.code).toBe(0);
    expect(titanic.logs.some((l) => l.msg === 'stopped')).toBe(true);
  }, 30_000);
});
