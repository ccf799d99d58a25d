/**
 * How a `watch()` iterator ends, on real sockets: `break` ends it quietly and unsubscribes (the
 * client goes on), the caller's signal makes the pending `next()` reject with `AbortError`, and
 * closing the client ends it quietly.
 *
 * ```
 *  test --commit--> CloneServer --KVPUB--> CloneClient --change--> watch() iterator
 * ```
 */
import { AbortError } from '@zpatterns/core';
import { useDisposables } from '@zpatterns/testkit';
import { describe, expect, it, vi } from 'vitest';
import { CloneClient } from '../src/client.js';
import { CloneServer } from '../src/server.js';

vi.setConfig({ testTimeout: 30_000 });

const { track } = useDisposables();

async function started(options: { maxWatchBacklog?: number } = {}): Promise<CloneClient> {
  const server = track(new CloneServer()); // its defaults: nothing here waits on HUGZ
  await server.start();
  const client = track(new CloneClient({ servers: [{ ...server.endpoints }], ...options }));
  await client.start();
  return client;
}

describe('CloneClient.watch() ends', () => {
  it('on break: quietly, and the watcher is gone (a backlog of one would overflow it otherwise)', async () => {
    const client = await started({ maxWatchBacklog: 1 });
    const seen: string[] = [];
    const reading = (async () => {
      for await (const change of client.watch('/w/')) {
        seen.push(change.key);
        break;
      }
    })(); // the watcher subscribes at once: a generator runs up to its first wait on next()
    await client.commit('/w/0', 'v');
    await reading;
    expect(seen).toEqual(['/w/0']);
    for (let i = 1; i <= 3; i += 1) await client.commit(`/w/${i}`, 'v');
    expect(client.stats.watchOverflows).toBe(0);
    expect(client.running).toBe(true);
  });

  it('on the caller signal: the pending next() rejects with AbortError, its cause the reason', async () => {
    const client = await started({ maxWatchBacklog: 1 });
    const controller = new AbortController();
    const changes = client.watch('/w/', { signal: controller.signal });
    const pending = changes.next();
    const reason = new Error('caller stops');
    controller.abort(reason);
    await expect(pending).rejects.toBeInstanceOf(AbortError);
    await expect(pending).rejects.toMatchObject({ code: 'ERR_ABORTED', cause: reason });
    expect(await changes.next()).toEqual({ done: true, value: undefined });
    // unsubscribed: changes no longer queue for it
    for (let i = 0; i < 3; i += 1) await client.commit(`/w/${i}`, 'v');
    expect(client.stats.watchOverflows).toBe(0);

    const late = client.watch('/w/', { signal: AbortSignal.abort() });
    await expect(late.next()).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    expect(client.running).toBe(true);
  });

  it('on close: the pending next() ends quietly (done), whatever signal it was given', async () => {
    const client = await started();
    const controller = new AbortController();
    const changes = client.watch('', { signal: controller.signal });
    const pending = changes.next();
    await client.close();
    expect(await pending).toEqual({ done: true, value: undefined });
    const after = client.watch('');
    expect(await after.next()).toEqual({ done: true, value: undefined });
  });
});
