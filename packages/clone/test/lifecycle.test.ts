/**
 * The shared lifecycle of the Clone server and client, on real sockets: `close()` twice,
 * `await using`, `closed()`, and `commit()`'s per-call `{ timeoutMs, signal }`.
 */
import { useDisposables, expectClosesOnce, type LongLived } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';
import { CloneClient } from '../src/client.js';
import { CloneServer } from '../src/server.js';

const { track } = useDisposables();

describe('Clone lifecycle', () => {
  it('CloneServer and CloneClient: close twice, closed()', async () => {
    const server = new CloneServer({ hugzIntervalMs: 100 });
    await server.start();
    const client = new CloneClient({ servers: [{ ...server.endpoints }] });
    await client.start();
    await expectClosesOnce(client);
    await expectClosesOnce(server);
  });

  it('await using closes both', async () => {
    let kept: LongLived[] = [];
    {
      await using server = new CloneServer({ hugzIntervalMs: 100 });
      await server.start();
      await using client = new CloneClient({ servers: [{ ...server.endpoints }] });
      await client.start();
      kept = [server, client];
    }
    for (const target of kept) await expect(target.closed()).resolves.toBeUndefined();
  });

  it('commit(): a per-call timeoutMs gives TimeoutError, a signal gives AbortError, close gives ClosedError', async () => {
    const server = track(new CloneServer({ hugzIntervalMs: 100 }));
    await server.start();
    const client = track(new CloneClient({ servers: [{ ...server.endpoints }], commitTimeoutMs: 60_000 }));
    await client.start();
    expect(await client.commit('/k', 'v', { timeoutMs: 10_000 })).toBe(1n);
    await server.close();

    const late = await client.commit('/k', 'late', { timeoutMs: 100 }).catch((err: unknown) => err);
    expect(late).toMatchObject({ name: 'TimeoutError', code: 'ERR_TIMEOUT' });
    expect(String(late)).toContain('timeoutMs=100');

    const controller = new AbortController();
    const aborted = client.commit('/k', 'aborted', { signal: controller.signal });
    expect(client.stats.commitsPending).toBe(1);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError', code: 'ERR_ABORTED', cause: reason });
    expect(client.stats.commitsPending).toBe(0);

    await expect(client.commit('/k', 'pre-aborted', { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'ERR_ABORTED',
    });
    await expect(client.commit('/k', 'bad', { timeoutMs: 0 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });

    const pending = client.commit('/k', 'closing');
    await client.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    expect(client.stats.commitsPending).toBe(0);
  });
});
