/**
 * titanic start-up and shutdown as real processes:
 *
 * - `--with-broker` with a store that cannot open (SQLite, PostgreSQL): exit 1, and the broker's
 *   port is free again;
 * - a second SQLite Titanic behind a broker that already has `titanic.request` workers: refused,
 *   exit 1, with one line saying why;
 * - `--shutdown-delay-ms` without `--metrics-port`: still serving after SIGTERM, until the delay
 *   ends (here: a second signal ends it), exit 0;
 * - a second signal while closing: exit 143 for SIGTERM, 130 for SIGINT.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, Daemon, freePortRange, runCli } from '@zpatterns/testkit';
import { Router } from 'zeromq';
import { afterAll, describe, expect, it } from 'vitest';

const root = mkdtempSync(join(tmpdir(), 'titanic-start-stop-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => join(root, `d${++dirs}`);

const HEARTBEAT = ['--heartbeat-ms', '100'];

function withBroker(dataDir: string, ...extra: string[]): string[] {
  return ['--with-broker', '--broker', 'tcp://127.0.0.1:*', '--data-dir', dataDir, ...HEARTBEAT, ...extra];
}

describe('titanic start-up and shutdown', () => {
  it('--with-broker exits 1 and frees the port when the SQLite store cannot open', async () => {
    const dataDir = freshDir();
    mkdirSync(dataDir, { mode: 0o700 });
    writeFileSync(join(dataDir, 'titanic.sqlite'), 'this is not a database, it is a text file '.repeat(200));
    const port = await freePortRange(1);
    const run = await runCli(appBin('titanic'), [
      '--with-broker',
      '--broker',
      `tcp://127.0.0.1:${port}`,
      '--data-dir',
      dataDir,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^titanic: cannot open the Titanic store at .*\(ERR_TITANIC_STORE\)\n$/);
    const router = new Router({ linger: 0 });
    try {
      await router.bind(`tcp://127.0.0.1:${port}`);
    } finally {
      router.close();
    }
  });

  it('--with-broker exits 1 and frees the port when PostgreSQL cannot be reached', async () => {
    const [port, dead] = [await freePortRange(1), await freePortRange(1)];
    const run = await runCli(appBin('titanic'), [
      '--with-broker',
      '--broker',
      `tcp://127.0.0.1:${port}`,
      '--store',
      `postgres://titanic@127.0.0.1:${dead}/titanic`,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'titanic: cannot open the Titanic store on PostgreSQL: connection refused (ERR_TITANIC_STORE)\n',
    );
    const router = new Router({ linger: 0 });
    try {
      await router.bind(`tcp://127.0.0.1:${port}`);
    } finally {
      router.close();
    }
  });

  it('a second SQLite Titanic behind the same broker refuses to start, with one line', async () => {
    await using first = await Daemon.start({ bin: appBin('titanic'), args: withBroker(freshDir()) });
    const broker = first.ready['broker'] as string;
    const run = await runCli(appBin('titanic'), ['--broker', broker, '--data-dir', freshDir(), ...HEARTBEAT]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^titanic: another Titanic is registered for titanic\.request .*\(ERR_START\)\n$/);
    // The first one is untouched and still answers.
    await using client = await MajordomoClient.start({ broker, attemptTimeoutMs: 5000, retries: 0 });
    expect((await client.request('titanic.request', ['nobody', 'x']))[0]?.toString()).toBe('200');
    expect(await first.stop()).toEqual({ code: 0, signal: null });
  }, 30_000);

  it('--shutdown-delay-ms without --metrics-port keeps serving after SIGTERM until the delay ends', async () => {
    await using titanic = await Daemon.start({
      bin: appBin('titanic'),
      args: withBroker(freshDir(), '--shutdown-delay-ms', '600000'),
    });
    await using client = await MajordomoClient.start({
      broker: titanic.ready['broker'] as string,
      attemptTimeoutMs: 5000,
      retries: 0,
    });
    const draining = titanic.waitForLog((l) => l.msg === 'draining: still serving, /healthz 503');
    titanic.signal('SIGTERM');
    expect((await draining)['delayMs']).toBe(600_000);
    // Still serving during the delay.
    expect((await client.request('titanic.request', ['nobody', 'x']))[0]?.toString()).toBe('200');
    expect(titanic.running).toBe(true);
    // A second signal ends the delay: a clean shutdown.
    titanic.signal('SIGTERM');
    expect(await titanic.exited).toEqual({ code: 0, signal: null });
    expect(titanic.logs.some((l) => l.msg === 'stopped')).toBe(true);
  }, 30_000);

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`a second ${signal} while closing exits ${code}`, async () => {
      await using titanic = await Daemon.start({ bin: appBin('titanic'), args: withBroker(freshDir()) });
      const broker = titanic.ready['broker'] as string;
      // A worker that takes the request and never answers: closing waits for it (the drain).
      const worker = new MajordomoWorker({
        broker,
        service: 'stuck',
        heartbeatIntervalMs: 100,
        handler: async (body) => {
          taken();
          await released;
          return body;
        },
      });
      let taken!: () => void;
      let release!: () => void;
      const gotIt = new Promise<void>((resolve) => (taken = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      await worker.start();
      const served = worker.closed();
      try {
        await using client = await MajordomoClient.start({ broker, attemptTimeoutMs: 5000, retries: 0 });
        expect((await client.request('titanic.request', ['stuck', 'x']))[0]?.toString()).toBe('200');
        await gotIt;
        const closing = titanic.waitForLog((l) => l.msg === 'shutting down');
        titanic.signal(signal);
        await closing;
        titanic.signal(signal);
        expect(await titanic.exited).toEqual({ code, signal: null });
        expect(titanic.logs.some((l) => l.msg === 'second signal, exiting now')).toBe(true);
      } finally {
        release();
        await worker.close();
        await served.catch(() => undefined);
      }
    }, 30_000);
  }
});
