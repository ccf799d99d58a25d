/**
 * flserver with CURVE, as a real process, and FreelanceClient with the `security` option:
 *
 *   FreelanceClient (alice)    ══CURVE══▶ flserver (CURVE, allow-list)
 *   FreelanceClient (stranger) ──✗  (its PINGs never arrive: the request times out)
 */
import { FreelanceClient } from '@zpatterns/freelance';
import { appBin, curveFixture, Daemon, type LogLine } from '@zpatterns/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const disposables: AsyncDisposable[] = [];
function track<T extends AsyncDisposable>(resource: T): T {
  disposables.push(resource);
  return resource;
}
afterEach(async () => {
  for (const d of disposables.splice(0).reverse()) await d[Symbol.asyncDispose]();
});

describe('flserver with CURVE', () => {
  it('serves an allowed client; an unknown key gets nothing and is logged', async () => {
    const keys = curveFixture(['server', 'alice', 'stranger'], ['alice']);
    const server = track(
      await Daemon.start({
        bin: appBin('flserver'),
        args: ['--bind', 'tcp://127.0.0.1:*', '--curve-secret-key-file', keys.peers['server']?.keyFile ?? ''].concat([
          '--allow-keys',
          keys.allowDir,
        ]),
      }),
    );
    expect(server.ready).toMatchObject({ curve: true });
    const endpoint = server.ready['endpoint'] as string;
    const client = async (name: string): Promise<FreelanceClient> =>
      track(await FreelanceClient.start({ servers: [endpoint], security: keys.client(name, 'server') }));
    expect((await (await client('alice')).request(['hello'], { timeoutMs: 10_000 })).map(String)).toEqual(['hello']);
    await expect((await client('stranger')).request(['let me in'], { timeoutMs: 1000 })).rejects.toMatchObject({
      code: 'ERR_TIMEOUT',
    });
    const denied = (l: LogLine): boolean =>
      l.msg === 'connection denied' && l['publicKey'] === keys.peers['stranger']?.publicKey;
    await server.waitForLog(denied, 10_000, true);
  });
});
