/**
 * The shared lifecycle of the Freelance client and server, on real sockets: `new` opens nothing,
 * `start()` readies, close twice, `await using`, `closed()`, the status feed's first and last
 * events, stats snapshots, and `request()`'s per-call `{ timeoutMs, signal }`.
 */
import { FreelanceClient, FreelanceServer, type FreelanceServerStatus } from '@zpatterns/freelance';
import { freeTcpEndpoint } from '@zpatterns/freelance/protocol';
import { useDisposables, expectClosesOnce, type LongLived } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

const { track } = useDisposables();

describe('Freelance lifecycle', () => {
  it('FreelanceServer and FreelanceClient: new + start, close twice, closed()', async () => {
    const server = new FreelanceServer({ bind: 'tcp://127.0.0.1:*' });
    expect(server.lifecycle).toBe('new');
    expect(() => server.endpoints.clients).toThrow(expect.objectContaining({ code: 'ERR_NOT_STARTED' }));
    await server.start();
    expect(server.running).toBe(true);
    const client = new FreelanceClient({ servers: [server.endpoints.clients] });
    await expect(client.request(['early'])).rejects.toMatchObject({ code: 'ERR_NOT_STARTED' });
    await client.start();
    await client.start();
    expect((await client.request(['hi'])).map(String)).toEqual(['hi']);
    await expectClosesOnce(client);
    await expectClosesOnce(server);
    await expect(client.request(['late'])).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('new opens nothing: a server not started leaves its port free, a client closed unstarted closes at once', async () => {
    const bind = await freeTcpEndpoint();
    const idle = new FreelanceServer({ bind });
    const client = new FreelanceClient({ servers: [bind] });
    await client.close();
    await expect(client.closed()).resolves.toBeUndefined();
    // The idle server did not bind: another one can.
    const server = track(await FreelanceServer.start({ bind }));
    expect(server.endpoints.bound).toBe(bind);
    await idle.close();
  });

  it('bad options throw synchronously, in the constructor', () => {
    expect(() => new FreelanceServer({ bind: 'ipc://*' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(() => new FreelanceServer({ bind: 'tcp://127.0.0.1:*', maxConcurrent: 0 })).toThrow(/maxConcurrent/);
    expect(() => new FreelanceClient({ servers: ['tcp://127.0.0.1:5'], strategy: 'x' as never })).toThrow(/strategy/);
    expect(() => new FreelanceClient({ servers: ['tcp://127.0.0.1:5'], peerTtlMs: 0 })).toThrow(
      'FreelanceClient: peerTtlMs must be a finite number > 0, got 0',
    );
    expect(() => new FreelanceServer({ bind: 'tcp://127.0.0.1:*', maxFramesPerMessage: 1.5 })).toThrow(
      'FreelanceServer: maxFramesPerMessage must be a whole number > 0, got 1.5',
    );
  });

  it('await using closes both; status() starts with started and ends with closed', async () => {
    let kept: LongLived[] = [];
    const events: string[] = [];
    let reading: Promise<void> = Promise.resolve();
    {
      await using server = await FreelanceServer.start({ bind: 'tcp://127.0.0.1:*' });
      await using client = new FreelanceClient({ servers: [server.endpoints.clients] });
      const feed = client.status();
      reading = (async () => {
        for await (const event of feed) events.push(event.type);
      })();
      await client.start();
      kept = [server, client];
    }
    for (const target of kept) await expect(target.closed()).resolves.toBeUndefined();
    await reading;
    expect(events[0]).toBe('started');
    expect(events.at(-1)).toBe('closed');
  });

  it('stats are snapshots: a copy read before a request keeps its figures', async () => {
    const server = track(await FreelanceServer.start({ bind: 'tcp://127.0.0.1:*' }));
    const client = track(await FreelanceClient.start({ servers: [server.endpoints.clients] }));
    const before = client.stats;
    const serverBefore = server.stats;
    await client.request(['x']);
    expect(before.replies).toBe(0);
    expect(serverBefore.requests).toBe(0);
    expect(client.stats.replies).toBe(1);
    expect(server.stats).toMatchObject({ requests: 1, replies: 1 });
    expect(client.stats).not.toBe(client.stats);
  });

  it('FreelanceServer status(): saturated at maxConcurrent, drained at half of it', async () => {
    const gates: (() => void)[] = [];
    const server = track(
      new FreelanceServer({
        bind: 'tcp://127.0.0.1:*',
        maxConcurrent: 4,
        handler: (body) => new Promise((resolve) => gates.push(() => resolve(body))),
      }),
    );
    const feed = server.status();
    await server.start();
    const client = track(
      await FreelanceClient.start({
        servers: [server.endpoints.clients],
        timeoutMs: 30_000,
        retries: 0,
        attemptTimeoutMs: 30_000,
      }),
    );
    const replies = Array.from({ length: 6 }, (_, i) => client.request([String(i)]));
    const next = async (): Promise<FreelanceServerStatus | { type: string }> => {
      const result = await feed.next();
      if (result.done === true) throw new Error('status feed ended');
      return result.value;
    };
    expect(await next()).toEqual({ type: 'started' });
    expect(await next()).toEqual({ type: 'saturated', queued: 4, limit: 4 });
    // Release two: down to 2 in flight (half of 4), then the server reads the next ones.
    gates.splice(0, 2).forEach((open) => open());
    expect(await next()).toEqual({ type: 'drained', queued: 2 });
    expect(await next()).toEqual({ type: 'saturated', queued: 4, limit: 4 });
    while (gates.length < 4) await new Promise((r) => setImmediate(r));
    gates.splice(0).forEach((open) => open());
    expect(await next()).toEqual({ type: 'drained', queued: 2 });
    await Promise.all(replies);
    expect(server.stats).toMatchObject({ requests: 6, replies: 6 });
  });

  it('request(): a per-call timeoutMs gives TimeoutError, a signal gives AbortError', async () => {
    const client = track(await FreelanceClient.start({ servers: ['tcp://127.0.0.1:5'], timeoutMs: 60_000 }));
    await expect(client.request(['x'], { timeoutMs: 100 })).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    const controller = new AbortController();
    const waiting = client.request(['x'], { signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError', code: 'ERR_ABORTED' });
    await expect(client.request(['x'], { signal: controller.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });
});
