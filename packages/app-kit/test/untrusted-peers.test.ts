/**
 * The daemons' security flags as real processes: allow-lists that group or others may write are
 * refused at start (exit 2, one line) and at SIGHUP (old list kept, error logged); SIGHUP never
 * kills a daemon; a bind beyond loopback without CURVE is warned about.
 */
import { chmodSync } from 'node:fs';
import { pino } from 'pino';
import { MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, curveFixture, Daemon, runCli, startTarget, type DaemonName, type LogLine } from '@zpatterns/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { isLoopbackEndpoint, warnPlainBinds } from '../src/security.js';

const disposables: AsyncDisposable[] = [];
function track<T extends AsyncDisposable>(resource: T): T {
  disposables.push(resource);
  return resource;
}
afterEach(async () => {
  for (const d of disposables.splice(0).reverse()) await d[Symbol.asyncDispose]();
});

const says =
  (msg: string) =>
  (line: LogLine): boolean =>
    line.msg === msg;

describe('allow-list permissions', () => {
  it.each([
    ['mdbroker', []],
    ['ppqueue', []],
    ['flserver', []],
    ['bstarsrv', ['--ha', 'primary']],
    ['clonesrv', []],
    ['titanic', ['--with-broker']],
  ])('%s refuses a group-writable --allow-keys folder at start: exit 1, one line', async (bin, extra) => {
    const keys = curveFixture(['server', 'alice'], ['alice']);
    chmodSync(keys.allowDir, 0o775);
    const result = await runCli(appBin(bin), [
      ...extra,
      '--curve-secret-key-file',
      keys.peers['server']?.keyFile ?? '',
      '--allow-keys',
      keys.allowDir,
    ]);
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${bin}: allow-list .* is writable by group or others.*\\(ERR_KEY_FILE\\)$`));
  });

  it('at SIGHUP a world-writable list is refused, the old one stays in force and the daemon serves on', async () => {
    const keys = curveFixture(['broker', 'alice', 'worker'], ['alice', 'worker']);
    const daemon = track(
      await Daemon.start({
        bin: appBin('mdbroker'),
        args: ['--bind', 'tcp://127.0.0.1:*', '--heartbeat-ms', '200', '--curve-secret-key-file']
          .concat(keys.peers['broker']?.keyFile ?? '')
          .concat(['--allow-keys', keys.allowDir]),
      }),
    );
    const endpoint = (daemon.ready['endpoints'] as string[])[0] ?? '';
    const worker = track(
      new MajordomoWorker({
        broker: endpoint,
        service: 'echo',
        heartbeatIntervalMs: 200,
        security: keys.client('worker', 'broker'),
        handler: (request) => request,
      }),
    );
    await worker.start();
    chmodSync(keys.allowDir, 0o777);
    const failed = daemon.waitForLog(says('allow-list reload failed, keeping the previous list'), 10_000);
    process.kill(daemon.pid ?? 0, 'SIGHUP');
    expect(JSON.stringify((await failed)['err'])).toMatch(/writable by group/);
    const alice = track(
      await MajordomoClient.start({
        broker: endpoint,
        attemptTimeoutMs: 10_000,
        retries: 0,
        security: keys.client('alice', 'broker'),
      }),
    );
    expect((await alice.request('echo', ['still allowed'])).map(String)).toEqual(['still allowed']);
    expect(daemon.running).toBe(true);
  });
});

describe('SIGHUP never kills a daemon', () => {
  it.each<DaemonName>(['mdbroker', 'ppqueue', 'flserver', 'bstarsrv', 'clonesrv'])(
    '%s without --allow-keys logs that there is nothing to reload and keeps serving',
    async (name) => {
      const target = await startTarget(name);
      track(target.daemon);
      const logged = target.daemon.waitForLog(says('nothing to reload (no --allow-keys)'), 10_000);
      process.kill(target.daemon.pid ?? 0, 'SIGHUP');
      await logged;
      await target.probe();
      expect(target.daemon.running).toBe(true);
    },
    60_000,
  );
});

describe('binds beyond loopback without CURVE', () => {
  it('tells loopback, ipc and inproc from endpoints other hosts can reach', () => {
    for (const e of [
      'tcp://127.0.0.1:5555',
      'tcp://127.3.0.1:1',
      'tcp://localhost:5',
      'tcp://[::1]:5',
      'ipc:///tmp/x',
      'inproc://x',
    ]) {
      expect(isLoopbackEndpoint(e), e).toBe(true);
    }
    for (const e of ['tcp://0.0.0.0:5555', 'tcp://*:5555', 'tcp://10.0.0.1:5', 'tcp://[::]:5', 'tcp://eth0:5']) {
      expect(isLoopbackEndpoint(e), e).toBe(false);
    }
  });

  it('warns once per exposed endpoint when plain, never with CURVE', () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'info' },
      { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) },
    );
    const plain = { security: undefined, keys: undefined, allowList: undefined };
    warnPlainBinds(plain, ['tcp://0.0.0.0:5555', 'tcp://127.0.0.1:5556', 'tcp://10.1.2.3:5557'], logger);
    expect(lines.map((l) => l['endpoint'])).toEqual(['tcp://0.0.0.0:5555', 'tcp://10.1.2.3:5557']);
    expect(lines[0]?.['level']).toBe(40);
    const curve = { publicKey: 'p', secretKey: 's' };
    warnPlainBinds({ security: { curve }, keys: curve, allowList: undefined }, ['tcp://0.0.0.0:1'], logger);
    expect(lines).toHaveLength(2);
  });
});
