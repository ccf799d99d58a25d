/**
 * mdbroker with CURVE and a ZAP allow-list, as a real process:
 *
 *   alice (allowed)   ══CURVE══▶ ┌──────────┐ ◀══CURVE══ worker (allowed): serves 'echo'
 *   stranger (unknown key) ──✗   │ mdbroker │ ✗── mole (unknown key): never gets a request
 *   plain client           ──✗   └──────────┘
 *   SIGHUP after removing bob.pub: bob's new connections are refused.
 */
import { chmodSync } from 'node:fs';
import { MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, curveFixture, Daemon, runCli, type CurveFixture, type LogLine } from '@zpatterns/testkit';
import { TimeoutError, type SecurityOptions } from '@zpatterns/core';
import { afterEach, describe, expect, it } from 'vitest';

const bin = (): string => appBin('mdbroker');
const disposables: AsyncDisposable[] = [];
function track<T extends AsyncDisposable>(resource: T): T {
  disposables.push(resource);
  return resource;
}
afterEach(async () => {
  for (const d of disposables.splice(0).reverse()) await d[Symbol.asyncDispose]();
});

async function curveBroker(keys: CurveFixture): Promise<{ daemon: Daemon; endpoint: string }> {
  const daemon = track(
    await Daemon.start({
      bin: bin(),
      args: [
        '--bind',
        'tcp://127.0.0.1:*',
        '--heartbeat-ms',
        '200',
        '--curve-secret-key-file',
        keys.peers['broker']?.keyFile ?? '',
        '--allow-keys',
        keys.allowDir,
      ],
    }),
  );
  expect(daemon.ready).toMatchObject({ curve: true });
  return { daemon, endpoint: (daemon.ready['endpoints'] as string[])[0] as string };
}

function echoWorker(endpoint: string, security: SecurityOptions | undefined, service = 'echo') {
  const seen: string[] = [];
  const worker = track(
    new MajordomoWorker({
      broker: endpoint,
      service,
      heartbeatIntervalMs: 200,
      security,
      handler: (request) => {
        seen.push(request.map(String).join(' '));
        return request;
      },
    }),
  );
  void worker.start();
  return seen;
}

async function client(endpoint: string, security?: SecurityOptions): Promise<MajordomoClient> {
  return track(await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 10_000, retries: 0, security }));
}

const denialOf =
  (field: string, value: unknown) =>
  (line: LogLine): boolean =>
    line.msg === 'connection denied' && line[field] === value;

describe('mdbroker with CURVE', () => {
  it('serves an allowed client; an unknown key and a plain client get nothing, each denial logged and counted', async () => {
    const keys = curveFixture(['broker', 'alice', 'worker', 'stranger'], ['alice', 'worker']);
    const { daemon, endpoint } = await curveBroker(keys);
    echoWorker(endpoint, keys.client('worker', 'broker'));
    expect(
      (await (await client(endpoint, keys.client('alice', 'broker'))).request('echo', ['hi'])).map(String),
    ).toEqual(['hi']);

    const stranger = await client(endpoint, keys.client('stranger', 'broker'));
    const plain = await client(endpoint);
    const [s, p] = await Promise.allSettled([
      stranger.request('echo', ['let me in'], { timeoutMs: 1000 }),
      plain.request('echo', ['let me in'], { timeoutMs: 1000 }),
    ]);
    for (const outcome of [s, p]) {
      expect(outcome.status).toBe('rejected');
      if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(TimeoutError);
    }
    const strangerDenied = await daemon.waitForLog(
      denialOf('publicKey', keys.peers['stranger']?.publicKey),
      10_000,
      true,
    );
    expect(strangerDenied).toMatchObject({ peer: '127.0.0.1', mechanism: 'CURVE' });
    // The plain client fails the handshake before ZAP: a mechanism mismatch, or a broken pipe when
    // the client notices the mismatch first. Either is logged per endpoint, with no key.
    const plainDenied = await daemon.waitForLog(
      (l) => l.msg === 'connection denied' && l['endpoint'] === endpoint,
      10_000,
      true,
    );
    expect(plainDenied['publicKey']).toBeUndefined();
    const counts = daemon.logs.filter((l) => l.msg === 'connection denied').map((l) => l['denied'] as number);
    expect(Math.max(...counts)).toBeGreaterThanOrEqual(2);
    expect(await daemon.stop()).toMatchObject({ code: 0 });
    const final = daemon.logs.filter((l) => l.msg === 'broker stats').at(-1);
    const zap = final?.['zap'] as { allowed: number; denied: number };
    expect(zap.allowed).toBeGreaterThanOrEqual(2); // alice and the worker
    expect(zap.denied).toBeGreaterThanOrEqual(2); // the stranger and the plain client
  });

  it('a worker with an unknown key never receives a request', async () => {
    const keys = curveFixture(['broker', 'alice', 'mole'], ['alice']);
    const { daemon, endpoint } = await curveBroker(keys);
    const seen = echoWorker(endpoint, keys.client('mole', 'broker'), 'secrets');
    await daemon.waitForLog(denialOf('publicKey', keys.peers['mole']?.publicKey), 10_000, true);
    const alice = await client(endpoint, keys.client('alice', 'broker'));
    await expect(alice.request('secrets', ['the plans'], { timeoutMs: 1000 })).rejects.toBeInstanceOf(TimeoutError);
    // The broker knows the service only from alice's request: no worker ever registered for it.
    expect((await alice.services()).map((e) => [String(e.name), e.workers])).toEqual([['secrets', 0]]);
    expect(seen).toEqual([]);
  });

  it('SIGHUP after removing a key from the allow-list cuts that key off for new connections', async () => {
    const keys = curveFixture(['broker', 'alice', 'bob', 'worker'], ['alice', 'bob', 'worker']);
    const { daemon, endpoint } = await curveBroker(keys);
    echoWorker(endpoint, keys.client('worker', 'broker'));
    const before = await client(endpoint, keys.client('bob', 'broker'));
    expect((await before.request('echo', ['before'])).map(String)).toEqual(['before']);
    await before.close();

    keys.revoke('bob');
    process.kill(daemon.pid ?? 0, 'SIGHUP');
    expect(await daemon.waitForLog((l) => l.msg === 'allow-list reloaded')).toMatchObject({ keys: 2 });
    const after = await client(endpoint, keys.client('bob', 'broker'));
    await expect(after.request('echo', ['after'], { timeoutMs: 1000 })).rejects.toBeInstanceOf(TimeoutError);
    await daemon.waitForLog(denialOf('publicKey', keys.peers['bob']?.publicKey), 10_000, true);
    expect(
      (await (await client(endpoint, keys.client('alice', 'broker'))).request('echo', ['alice'])).map(String),
    ).toEqual(['alice']);
  });

  it('refuses a secret key file readable by others at start-up: exit 1, one line naming the chmod', async () => {
    const keys = curveFixture(['broker']);
    const keyFile = keys.peers['broker']?.keyFile ?? '';
    chmodSync(keyFile, 0o644);
    const result = await runCli(bin(), ['--bind', 'tcp://127.0.0.1:*', '--curve-secret-key-file', keyFile]);
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^mdbroker: .*mode 0644.*chmod 600.*\(ERR_KEY_FILE\)$/);
    const orphan = await runCli(bin(), ['--allow-keys', keys.allowDir]);
    expect(orphan.code).toBe(2);
  });
});
