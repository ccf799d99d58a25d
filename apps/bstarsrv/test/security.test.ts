/**
 * A bstarsrv pair with CURVE on the clients' side (both servers share one key pair, so a Binary
 * Star client needs one server key):
 *
 *   client (alice)    ══CURVE══▶ primary frontend (active)    state PUB/SUB between the pair: plain
 *   client (stranger) ──✗
 */
import { BinaryStarClient } from '@zpatterns/bstar';
import { appBin, curveFixture, Daemon, ipcEndpoint, type LogLine } from '@zpatterns/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const HEARTBEAT_MS = 100;
const disposables: AsyncDisposable[] = [];
function track<T extends AsyncDisposable>(resource: T): T {
  disposables.push(resource);
  return resource;
}
afterEach(async () => {
  for (const d of disposables.splice(0).reverse()) await d[Symbol.asyncDispose]();
});

describe('bstarsrv with CURVE', () => {
  it('serves an allowed client; an unknown key gets no reply and is logged', async () => {
    const keys = curveFixture(['server', 'alice', 'stranger'], ['alice']);
    const [pState, bState] = [ipcEndpoint('bstar-curve-pstate'), ipcEndpoint('bstar-curve-bstate')];
    const fronts = [ipcEndpoint('bstar-curve-pfront'), ipcEndpoint('bstar-curve-bfront')] as const;
    const start = (role: 'primary' | 'backup', frontend: string, stateBind: string, stateConnect: string) =>
      Daemon.start({
        bin: appBin('bstarsrv'),
        args: ['--ha', role, '--frontend', frontend, '--state-bind', stateBind, '--state-connect', stateConnect].concat(
          ['--ha-heartbeat-ms', String(HEARTBEAT_MS), '--curve-secret-key-file', keys.peers['server']?.keyFile ?? ''],
          ['--allow-keys', keys.allowDir],
        ),
      });
    const primary = track(await start('primary', fronts[0], pState, bState));
    track(await start('backup', fronts[1], bState, pState));
    expect(primary.ready).toMatchObject({ curve: true });

    const client = async (name: string, retries: number) =>
      track(
        await BinaryStarClient.start({
          servers: fronts,
          attemptTimeoutMs: 500,
          settleDelayMs: 2 * HEARTBEAT_MS,
          retries,
          security: keys.client(name, 'server'),
        }),
      );
    expect((await (await client('alice', 20)).request(['hello'])).map(String)).toEqual(['hello']);
    await expect((await client('stranger', 0)).request(['let me in'])).rejects.toMatchObject({
      code: 'ERR_TIMEOUT',
      name: 'TimeoutError',
    });
    const denied = (l: LogLine): boolean =>
      l.msg === 'connection denied' && l['publicKey'] === keys.peers['stranger']?.publicKey;
    await primary.waitForLog(denied, 10_000, true);
  });
});
