/**
 * The client's own contract, on real sockets: refusals before start() and after close(), commit()
 * bookkeeping when validation throws, every server's collector subscribed before start() resolves,
 * a replica loop that fails surfaces its error, subtree filtering of keys that begin with HUGZ;
 * option checks in the one message style, `CloneClient.start(options, { timeoutMs })`, and the
 * `connected` / `disconnected` events through `waitFor`.
 */
import { ClosedError, InvalidArgumentError, NotStartedError } from '@zpatterns/core';
import { ipcEndpoint, startTcpProxy, useDisposables } from '@zpatterns/testkit';
import { describe, expect, it, vi } from 'vitest';
import { CloneClient } from '../src/client.js';
import { CloneServer } from '../src/server.js';

vi.setConfig({ testTimeout: 30_000 });

const { track } = useDisposables();

async function server(): Promise<CloneServer> {
  const s = track(new CloneServer({ heartbeatIntervalMs: 50, flushIntervalMs: 50 }));
  await s.start();
  return s;
}

describe('CloneClient refusals', () => {
  it('set(), delete() and commit() before start() throw NotStartedError and send nothing', async () => {
    const s = await server();
    const c = track(new CloneClient({ servers: [{ ...s.endpoints }] }));
    expect(() => c.set('/a', 'x')).toThrow(NotStartedError);
    expect(() => c.delete('/a')).toThrow(NotStartedError);
    await expect(c.commit('/a', 'x')).rejects.toMatchObject({ code: 'ERR_NOT_STARTED' });
    expect(c.stats.sent).toBe(0);
  });

  it('a commit() that fails validation leaves no pending commit (nor its timer) behind', async () => {
    const s = await server();
    const c = track(new CloneClient({ servers: [{ ...s.endpoints }] }));
    await c.start();
    await expect(c.commit('HUGZ', 'x')).rejects.toThrow(InvalidArgumentError);
    await expect(c.commit('', 'x')).rejects.toThrow(InvalidArgumentError);
    expect(c.stats.commitsPending).toBe(0);
  });

  it('after close(), writes throw ClosedError and pending commits reject with it (code ERR_CLOSED)', async () => {
    const s = await server();
    const c = new CloneClient({ servers: [{ ...s.endpoints }] });
    await c.start();
    await s.close(); // nothing will answer the commit below
    const pending = c.commit('/late', 'x');
    await c.close();
    await expect(pending).rejects.toBeInstanceOf(ClosedError);
    expect(() => c.set('/a', 'x')).toThrow(ClosedError);
    await expect(c.commit('/a', 'x')).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });
});

describe('CloneClient start()', () => {
  it('waits for the collector of the server it follows, so a commit right after start() is not lost', async () => {
    const active = await server();
    const other = await server();
    // the followed server's collector is reached through a slow link: its subscription arrives last
    const proxy = track(await startTcpProxy({ target: active.endpoints.collector }));
    proxy.delay(400);
    const c = track(
      new CloneClient({
        servers: [{ ...active.endpoints, collector: proxy.endpoint }, { ...other.endpoints }],
        timeoutMs: 3000,
      }),
    );
    await c.start();
    expect(await c.commit('/right-after', 'start')).toBe(1n);
  });
});

describe('CloneClient options and start options', () => {
  it('bad options throw InvalidArgumentError in the one style: "CloneClient: <option> must be <rule>, got <value>"', () => {
    const bad = (options: Record<string, unknown>): unknown => {
      try {
        new CloneClient({ servers: ['tcp://127.0.0.1:1'], ...options });
      } catch (err) {
        return err;
      }
      return undefined;
    };
    expect(bad({ peerTtlMs: 0 })).toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
      message: 'CloneClient: peerTtlMs must be a finite number > 0, got 0',
    });
    expect(bad({ timeoutMs: -1 })).toMatchObject({
      message: 'CloneClient: timeoutMs must be a number > 0 (or Infinity), got -1',
    });
    expect(bad({ maxWatchBacklog: 1.5 })).toMatchObject({
      message: 'CloneClient: maxWatchBacklog must be a whole number > 0, got 1.5',
    });
    expect(bad({ subtrees: [] })).toMatchObject({
      message: 'CloneClient: subtrees must be a non-empty array, got an array of 0',
    });
    expect(bad({ servers: [] })).toMatchObject({
      message: 'CloneClient: servers must be a non-empty array, got an array of 0',
    });
    // undefined keeps the default, as for every option
    expect(bad({ peerTtlMs: undefined, timeoutMs: undefined, lingerMs: undefined })).toBeUndefined();
  });

  it('CloneClient.start(options, { timeoutMs }): no server answering gives TimeoutError and a closed client', async () => {
    const nowhere = { snapshot: ipcEndpoint('s'), publisher: ipcEndpoint('p'), collector: ipcEndpoint('c') };
    const failure = await CloneClient.start({ servers: [nowhere] }, { timeoutMs: 200 }).catch((err: unknown) => err);
    expect(failure).toMatchObject({ name: 'TimeoutError', code: 'ERR_TIMEOUT' });
    expect(String(failure)).toContain('200 ms (timeoutMs)');
  });

  it('waitFor: connected when the snapshot is in, then disconnected { reason: silent } once the server is gone', async () => {
    const s = await server();
    const c = track(new CloneClient({ servers: [{ ...s.endpoints }], peerTtlMs: 300 }));
    const connected = c.waitFor('connected');
    await c.start();
    expect(await connected).toEqual({ type: 'connected', peer: s.endpoints.snapshot });
    const lost = c.waitFor('disconnected', { timeoutMs: 10_000 });
    await s.close();
    const event = await lost;
    expect(event).toMatchObject({ type: 'disconnected', peer: s.endpoints.snapshot, reason: 'silent' });
    expect(event.silentMs).toBeGreaterThanOrEqual(300);
  });
});
