/**
 * Titanic with CURVE, as real processes:
 *
 *   1. Titanic's own broker connection is CURVE:
 *      TitanicClient (alice) ══▶ mdbroker (CURVE, allow-list) ◀══ titanic (titanic.key)  ◀══ echo worker
 *      TitanicClient (stranger) ──✗
 *   2. titanic --with-broker: the in-process broker takes the same flags; zpat titanic submit
 *      with an allowed key gets a UUID, with an unknown key nothing.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MajordomoWorker } from '@zpatterns/majordomo';
import { TitanicClient } from '@zpatterns/titanic';
import { appBin, curveFixture, Daemon, runCli, type LogLine } from '@zpatterns/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const disposables: AsyncDisposable[] = [];
function track<T extends AsyncDisposable>(resource: T): T {
  disposables.push(resource);
  return resource;
}
afterEach(async () => {
  for (const d of disposables.splice(0).reverse()) await d[Symbol.asyncDispose]();
});

const dataDir = (): string => mkdtempSync(join(tmpdir(), 'titanic-curve-'));
const denied = (l: LogLine): boolean => l.msg === 'connection denied';

describe('titanic with CURVE', () => {
  it('connects to a CURVE broker with its own key; an allowed client is served, an unknown key gets nothing', async () => {
    const keys = curveFixture(['broker', 'titanic', 'worker', 'alice', 'stranger'], ['titanic', 'worker', 'alice']);
    const broker = track(
      await Daemon.start({
        bin: appBin('mdbroker'),
        args: ['--bind', 'tcp://127.0.0.1:*', '--heartbeat-ms', '200'].concat([
          '--curve-secret-key-file',
          keys.peers['broker']?.keyFile ?? '',
          '--allow-keys',
          keys.allowDir,
        ]),
      }),
    );
    const endpoint = (broker.ready['endpoints'] as string[])[0] as string;
    const titanic = track(
      await Daemon.start({
        bin: appBin('titanic'),
        args: ['--broker', endpoint, '--data-dir', dataDir(), '--heartbeat-ms', '200', '--request-workers', '2'].concat(
          ['--reply-workers', '1', '--retry-max-ms', '300'],
          ['--curve-secret-key-file', keys.peers['titanic']?.keyFile ?? ''],
          ['--curve-server-key', keys.peers['broker']?.pubFile ?? ''],
        ),
      }),
    );
    expect(titanic.ready).toMatchObject({ curve: true });
    const worker = track(
      new MajordomoWorker({
        broker: endpoint,
        service: 'echo',
        heartbeatIntervalMs: 200,
        security: keys.client('worker', 'broker'),
        handler: (body) => body,
      }),
    );
    await worker.start();

    const alice = track(await TitanicClient.start({ broker: endpoint, security: keys.client('alice', 'broker') }));
    const uuid = await alice.submit('echo', ['durable hello']);
    expect((await alice.waitReply(uuid, { timeoutMs: 20_000 })).map(String)).toEqual(['durable hello']);

    const stranger = track(
      await TitanicClient.start({
        broker: endpoint,
        attemptTimeoutMs: 1000,
        retries: 0,
        security: keys.client('stranger', 'broker'),
      }),
    );
    await expect(stranger.submit('echo', ['let me in'])).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    await broker.waitForLog((l) => denied(l) && l['publicKey'] === keys.peers['stranger']?.publicKey, 10_000, true);
    expect(broker.logs.some((l) => denied(l) && l['publicKey'] === keys.peers['titanic']?.publicKey)).toBe(false);
  });

  it('--with-broker: the same flags secure the in-process broker (zpat titanic submit allowed / refused)', async () => {
    const keys = curveFixture(['titanic', 'alice', 'stranger'], ['alice']);
    const titanic = track(
      await Daemon.start({
        bin: appBin('titanic'),
        args: [
          '--with-broker',
          '--broker',
          'tcp://127.0.0.1:*',
          '--data-dir',
          dataDir(),
          '--heartbeat-ms',
          '200',
        ].concat(['--curve-secret-key-file', keys.peers['titanic']?.keyFile ?? '', '--allow-keys', keys.allowDir]),
      }),
    );
    const endpoint = (titanic.ready['endpoints'] as string[])[0] as string;
    const submit = (name: string) =>
      runCli(
        appBin('zpat'),
        ['titanic', 'submit', 'echo', 'hi', '--allow-unserved', '--broker', endpoint, '--timeout-ms', '2000'].concat(
          ['--retries', '0', '--curve-server-key', keys.peers['titanic']?.pubFile ?? ''],
          ['--curve-secret-key-file', keys.peers[name]?.keyFile ?? ''],
        ),
      );
    const allowed = await submit('alice');
    expect(allowed.code).toBe(0);
    expect(allowed.stdout.trim()).toMatch(/^[0-9A-F]{32}$/);
    expect((await submit('stranger')).code).toBe(1);
    await titanic.waitForLog((l) => denied(l) && l['publicKey'] === keys.peers['stranger']?.publicKey, 10_000, true);
  });
});
