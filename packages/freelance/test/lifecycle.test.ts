/**
 * The shared lifecycle of the Freelance client and server, on real sockets: close twice,
 * `await using`, `closed()`, and `request()`'s per-call `{ timeoutMs, signal }`.
 */
import { FreelanceClient, FreelanceServer } from '@zpatterns/freelance';
import { useDisposables, expectClosesOnce, type LongLived } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

const { track } = useDisposables();

describe('Freelance lifecycle', () => {
  it('FreelanceServer and FreelanceClient: close twice, closed()', async () => {
    const server = await FreelanceServer.start({ bind: 'tcp://127.0.0.1:*' });
    const client = new FreelanceClient({ servers: [server.endpoint] });
    expect((await client.request(['hi'])).map(String)).toEqual(['hi']);
    await expectClosesOnce(client);
    await expectClosesOnce(server);
  });

  it('await using closes both', async () => {
    let kept: LongLived[] = [];
    {
      await using server = await FreelanceServer.start({ bind: 'tcp://127.0.0.1:*' });
      await using client = new FreelanceClient({ servers: [server.endpoint] });
      kept = [server, client];
    }
    for (const target of kept) await expect(target.closed()).resolves.toBeUndefined();
  });

  it('request(): a per-call timeoutMs gives TimeoutError, a signal gives AbortError', async () => {
    const client = track(new FreelanceClient({ servers: ['tcp://127.0.0.1:5'], timeoutMs: 60_000 }));
    await expect(client.request(['x'], { timeoutMs: 100 })).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    const controller = new AbortController();
    const waiting = client.request(['x'], { signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError', code: 'ERR_ABORTED' });
  });
});
