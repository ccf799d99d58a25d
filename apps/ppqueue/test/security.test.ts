/**
 * ppqueue with CURVE on both sockets, as real processes (ppqueue, zpat ppworker, zpat lpcall):
 *
 *   zpat lpcall (alice)     ══CURVE══▶ ┌─────────┐ ◀══CURVE══ zpat ppworker (worker key)
 *   zpat lpcall (stranger)  ──✗        │ ppqueue │
 *   zpat lpcall (plain)     ──✗        └─────────┘
 */
import { appBin, curveFixture, Daemon, runCli, type LogLine } from '@zpatterns/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

describe('ppqueue with CURVE (processes)', () => {
  it('serves an allowed client through an allowed worker; an unknown key and a plain client get no reply', async () => {
    const keys = curveFixture(['queue', 'worker', 'alice', 'stranger'], ['worker', 'alice']);
    const key = (name: string): string => keys.peers[name]?.keyFile ?? '';
    const queue = await Daemon.start({
      bin: appBin('ppqueue'),
      args: [
        ...['--frontend', 'tcp://127.0.0.1:*', '--backend', 'tcp://127.0.0.1:*', '--heartbeat-ms', '100'],
        ...['--curve-secret-key-file', key('queue'), '--allow-keys', keys.allowDir],
      ],
    });
    cleanup.push(() => queue.stop());
    expect(queue.ready).toMatchObject({ curve: true });
    const { frontend, backend } = queue.ready as unknown as { frontend: string; backend: string };
    const serverKey = ['--curve-server-key', keys.peers['queue']?.pubFile ?? ''];
    const worker = await Daemon.start({
      bin: appBin('zpat'),
      args: [
        'ppworker',
        '--queue',
        backend,
        '--heartbeat-ms',
        '100',
        ...serverKey,
        '--curve-secret-key-file',
        key('worker'),
      ],
    });
    cleanup.push(() => worker.stop());
    await queue.waitForLog((l) => l.msg === 'worker ready', 10_000, true);

    const lpcall = (extra: string[]) =>
      runCli(appBin('zpat'), [
        'lpcall',
        '--server',
        frontend,
        '--attempt-timeout-ms',
        '1000',
        '--retries',
        '0',
        ...extra,
        'hi',
      ]);
    expect(await lpcall([...serverKey, '--curve-secret-key-file', key('alice')])).toMatchObject({
      code: 0,
      stdout: 'hi\n',
    });

    const [stranger, plain] = await Promise.all([
      lpcall([...serverKey, '--curve-secret-key-file', key('stranger')]),
      lpcall([]),
    ]);
    expect(stranger.code).toBe(1);
    expect(plain.code).toBe(1);
    const denied = (l: LogLine): boolean => l.msg === 'connection denied';
    await queue.waitForLog((l) => denied(l) && l['publicKey'] === keys.peers['stranger']?.publicKey, 10_000, true);
    await queue.waitForLog((l) => denied(l) && l['endpoint'] === frontend, 10_000, true);
  });
});
