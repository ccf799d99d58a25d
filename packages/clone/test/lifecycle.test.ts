/**
 * The shared lifecycle of the Clone server and client, on real sockets: `new` opens nothing,
 * `start()` and its `{ timeoutMs, signal }`, `close()` twice, `await using`, `closed()`, the status
 * feed's ends, stats as snapshots, and `commit()`'s per-call `{ timeoutMs, signal }`.
 */
import { ipcEndpoint, useDisposables, expectClosesOnce, type LongLived } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';
import { CloneClient } from '../src/client.js';
import { CloneServer } from '../src/server.js';

const { track } = useDisposables();

async function drain<T>(feed: AsyncIterable<T>): Promise<T[]> {
  const events: T[] = [];
  for await (const event of feed) events.push(event);
  return events;
}

describe('Clone lifecycle', () => {
  it('new validates and opens nothing: a server whose port is taken fails only at start()', async () => {
    const first = track(new CloneServer());
    await first.start();
    const second = new CloneServer({ snapshotBind: first.endpoints.snapshot });
    expect(second.lifecycle).toBe('new');
    const feed = drain(second.status());
    const failure = await second.start().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(Error);
    expect(second.lifecycle).toBe('closed');
    expect(await second.closed()).toBe(failure);
    expect(await feed).toEqual([{ type: 'closed', error: failure }]);
    expect(() => new CloneServer({ heartbeatIntervalMs: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(() => new CloneClient({ servers: [] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => new CloneClient({ servers: ['tcp://127.0.0.1:1'], peerTtlMs: -1 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });

  it('CloneClient before start(): writes refuse with ERR_NOT_STARTED; CloneClient.start() is new + start', async () => {
    const server = track(await CloneServer.start({ heartbeatIntervalMs: 100 }));
    const client = track(new CloneClient({ servers: [{ ...server.endpoints }] }));
    expect(client.lifecycle).toBe('new');
    expect(() => client.set('/k', 'v')).toThrow(expect.objectContaining({ code: 'ERR_NOT_STARTED' }));
    await expect(client.commit('/k', 'v')).rejects.toMatchObject({ code: 'ERR_NOT_STARTED' });
    const feed = drain(client.status());
    await client.start();
    expect(client.running).toBe(true);
    await client.close();
    expect(await feed).toEqual([
      { type: 'connected', peer: server.endpoints.snapshot },
      { type: 'started' },
      { type: 'closed' },
    ]);
    const other = track(await CloneClient.start({ servers: [{ ...server.endpoints }] }));
    expect(other.running).toBe(true);
  });

  it('start({ timeoutMs }) with no server answering: TimeoutError, and the client is closed with it', async () => {
    const nowhere = { snapshot: ipcEndpoint('s'), publisher: ipcEndpoint('p'), collector: ipcEndpoint('c') };
    const client = new CloneClient({ servers: [nowhere], peerTtlMs: 60_000 });
    const failure = await client.start({ timeoutMs: 200 }).catch((err: unknown) => err);
    expect(failure).toMatchObject({ name: 'TimeoutError', code: 'ERR_TIMEOUT' });
    expect(String(failure)).toContain('200 ms (timeoutMs)');
    expect(await client.closed()).toBe(failure);
    await expect(client.commit('/k', 'v')).rejects.toMatchObject({ code: 'ERR_CLOSED' });

    const aborted = new CloneClient({ servers: [nowhere] });
    const controller = new AbortController();
    const starting = aborted.start({ signal: controller.signal });
    controller.abort(new Error('shutting down'));
    await expect(starting).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    await expect(new CloneClient({ servers: [nowhere] }).start({ timeoutMs: 0 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
  });

  it('stats are snapshots: a copy read earlier keeps its figures', async () => {
    const server = track(await CloneServer.start({ heartbeatIntervalMs: 100 }));
    const client = track(await CloneClient.start({ servers: [{ ...server.endpoints }] }));
    const [clientBefore, serverBefore] = [client.stats, server.stats];
    await client.commit('/k', 'v');
    expect([clientBefore.sent, serverBefore.updates]).toEqual([0, 0]);
    expect([client.stats.sent, server.stats.updates]).toEqual([1, 1]);
    expect(client.stats).not.toBe(client.stats);
    expect(server.stats).not.toBe(server.stats);
  });

  it('CloneServer and CloneClient: close twice, closed()', async () => {
    const server = new CloneServer({ heartbeatIntervalMs: 100 });
    await server.start();
    const client = new CloneClient({ servers: [{ ...server.endpoints }] });
    await client.start();
    await expectClosesOnce(client);
    await expectClosesOnce(server);
  });

  it('await using closes both', async () => {
    let kept: LongLived[] = [];
    {
      await using server = new CloneServer({ heartbeatIntervalMs: 100 });
      await server.start();
      await using client = new CloneClient({ servers: [{ ...server.endpoints }] });
      await client.start();
      kept = [server, client];
    }
    for (const target of kept) await expect(target.closed()).resolves.toBeUndefined();
  });

  it('commit(): a per-call timeoutMs gives TimeoutError, a signal gives AbortError, close gives ClosedError', async () => {
    const server = track(new CloneServer({ heartbeatIntervalMs: 100 }));
    await server.start();
    const client = track(new CloneClient({ servers: [{ ...server.endpoints }], timeoutMs: 60_000 }));
    await client.start();
    expect(await client.commit('/k', 'v', { timeoutMs: 10_000 })).toBe(1n);
    await server.close();

    const late = await client.commit('/k', 'late', { timeoutMs: 100 }).catch((err: unknown) => err);
    expect(late).toMatchObject({ name: 'TimeoutError', code: 'ERR_TIMEOUT' });
    expect(late).toMatchObject({ attempts: 1 });
    expect(String(late)).toContain('100 ms (timeoutMs)');

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
