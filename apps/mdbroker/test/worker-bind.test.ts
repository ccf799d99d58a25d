/**
 * Per-role sockets on mdbroker, as a real process: clients on --bind, workers on --worker-bind,
 * each with its own allow-list.
 *
 *   alice (client key) ══CURVE══▶ --bind         ──▶ served by the worker
 *   alice as a worker  ══CURVE══▶ --worker-bind  ✗ refused by ZAP (not in --worker-allow-keys)
 *   READY on --bind (any key)                    ◀── DISCONNECT
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { type SecurityOptions } from '@zpatterns/core';
import { applyConnectSecurity } from '@zpatterns/core/internal';
import { appBin, curveFixture, Daemon, rawDealer, runCli, type LogLine } from '@zpatterns/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const disposables: AsyncDisposable[] = [];
function track<T extends AsyncDisposable>(resource: T): T {
  disposables.push(resource);
  return resource;
}
afterEach(async () => {
  for (const d of disposables.splice(0).reverse()) await d[Symbol.asyncDispose]();
});

function worker(endpoint: string, security: SecurityOptions | undefined, seen: string[]): MajordomoWorker {
  const w = track(
    new MajordomoWorker({
      broker: endpoint,
      service: 'echo',
      heartbeatIntervalMs: 200,
      security,
      handler: (request) => {
        seen.push(request.map(String).join(' '));
        return request;
      },
    }),
  );
  void w.start();
  return w;
}

/**
 * A DEALER sending READY; resolves with the broker's answer (DISCONNECT is command 5), or
 * 'nothing' within `timeoutMs`.
 */
async function readyAndAnswer(
  endpoint: string,
  security?: SecurityOptions,
  timeoutMs = 10_000,
): Promise<Buffer[] | 'nothing'> {
  const socket = new zmq.Dealer({ linger: 0, receiveTimeout: timeoutMs, sendTimeout: timeoutMs });
  try {
    if (security !== undefined) applyConnectSecurity(socket, security);
    socket.connect(endpoint);
    await socket.send([b(''), b('MDPW01'), Buffer.from([1]), b('echo')]);
    return await socket.receive();
  } catch {
    return 'nothing';
  } finally {
    socket.close();
  }
}

describe('mdbroker --worker-bind', () => {
  it('CURVE: workers only with a worker key on the worker endpoint; worker commands on the client endpoint get DISCONNECT', async () => {
    const keys = curveFixture(['broker', 'alice', 'worker'], ['alice']);
    const workerDir = join(keys.dir, 'workers');
    mkdirSync(workerDir);
    copyFileSync(keys.peers['worker']?.pubFile ?? '', join(workerDir, 'worker.pub'));
    const daemon = track(
      await Daemon.start({
        bin: appBin('mdbroker'),
        args: ['--bind', 'tcp://127.0.0.1:*', '--worker-bind', 'tcp://127.0.0.1:*', '--heartbeat-ms', '200']
          .concat(['--curve-secret-key-file', keys.peers['broker']?.keyFile ?? ''])
          .concat(['--allow-keys', keys.allowDir, '--worker-allow-keys', workerDir]),
      }),
    );
    const clients = (daemon.ready['endpoints'] as string[])[0] ?? '';
    const workers = (daemon.ready['workerEndpoints'] as string[])[0] ?? '';
    const served: string[] = [];
    worker(workers, keys.client('worker', 'broker'), served);
    // a client key trying to be a worker: refused by the worker endpoint's allow-list
    const mole = readyAndAnswer(workers, keys.client('alice', 'broker'), 3000);
    const alice = track(
      await MajordomoClient.start({
        broker: clients,
        attemptTimeoutMs: 10_000,
        retries: 0,
        security: keys.client('alice', 'broker'),
      }),
    );
    for (let i = 0; i < 5; i++) {
      expect((await alice.request('echo', [`hi ${i}`])).map(String)).toEqual([`hi ${i}`]);
    }
    expect(served).toHaveLength(5);
    expect(await mole).toBe('nothing');
    await daemon.waitForLog(
      (l: LogLine) => l.msg === 'connection denied' && l['publicKey'] === keys.peers['alice']?.publicKey,
      10_000,
      true,
    );
    // A READY on the client endpoint (alice's key gets past the client allow-list): DISCONNECT.
    const answer = await readyAndAnswer(clients, keys.client('alice', 'broker'));
    expect(answer !== 'nothing' && answer[2]?.[0]).toBe(5);
  });

  it('plain: a READY on the client endpoint gets DISCONNECT, on the worker endpoint it registers', async () => {
    const daemon = track(
      await Daemon.start({
        bin: appBin('mdbroker'),
        args: ['--bind', 'tcp://127.0.0.1:*', '--worker-bind', 'tcp://127.0.0.1:*', '--heartbeat-ms', '200'],
      }),
    );
    const clients = (daemon.ready['endpoints'] as string[])[0] ?? '';
    const workers = (daemon.ready['workerEndpoints'] as string[])[0] ?? '';
    const answer = await readyAndAnswer(clients);
    expect(answer !== 'nothing' && answer[2]?.[0]).toBe(5);
    const served: string[] = [];
    worker(workers, undefined, served);
    const client = track(await MajordomoClient.start({ broker: clients, attemptTimeoutMs: 10_000, retries: 0 }));
    expect((await client.request('echo', ['plain'])).map(String)).toEqual(['plain']);
    // a client request on the worker endpoint is dropped and counted, never served
    await using raw = rawDealer(workers);
    await raw.send([b(''), b('MDPC01'), b('echo'), b('wrong door')]);
    await raw.expectNothing(1000);
    expect(served).toEqual(['plain']);
  });

  it('flag errors: --worker-allow-keys without --worker-bind, --worker-bind with --allow-keys alone', async () => {
    for (const args of [
      ['--worker-allow-keys', '/tmp'],
      ['--worker-bind', 'tcp://127.0.0.1:*', '--allow-keys', '/tmp'],
    ]) {
      const result = await runCli(appBin('mdbroker'), args);
      expect(result.code).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
