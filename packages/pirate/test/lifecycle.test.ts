/**
 * The shared lifecycle of every long-lived Pirate object, on real sockets: `close()` twice,
 * `await using`, `closed()` (pending until the end, `undefined` after close, the error after a
 * failure of its own), and the per-call `{ timeoutMs, signal }` of a waiting call.
 */
import { constantBackoff } from '@zpatterns/core';
import {
  LazyPirateClient,
  ParanoidPirateQueue,
  ParanoidPirateWorker,
  SimplePirateQueue,
  SimplePirateWorker,
} from '@zpatterns/pirate';
import { rawRouter, useDisposables, expectClosesOnce, type LongLived } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

const { track } = useDisposables();
const echo = (body: Buffer[]): Buffer[] => body;
const endpoints = { frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' };

/** `await using` closes the object at the end of the block. */
async function expectAwaitUsing(make: () => LongLived | Promise<LongLived>): Promise<void> {
  let kept: LongLived | undefined;
  {
    await using target = await make();
    kept = target;
  }
  await expect(kept.closed()).resolves.toBeUndefined();
}

describe('Pirate lifecycle', () => {
  it('LazyPirateClient: close twice, await using, closed()', async () => {
    await expectClosesOnce(new LazyPirateClient('tcp://127.0.0.1:5', { timeoutMs: 1000 }));
    await expectAwaitUsing(() => new LazyPirateClient('tcp://127.0.0.1:5'));
  });

  it('LazyPirateClient: a per-call signal aborts the wait with AbortError, a per-call timeoutMs ends it', async () => {
    const router = track(await rawRouter());
    const client = track(new LazyPirateClient(router.endpoint, { timeoutMs: 60_000, retries: 0 }));
    const controller = new AbortController();
    const aborted = client.request(['a'], { signal: controller.signal });
    await router.receive(5000);
    controller.abort(new Error('caller gave up'));
    await expect(aborted).rejects.toMatchObject({ code: 'ERR_ABORTED', name: 'AbortError' });
    const early = new AbortController();
    const abortedAtOnce = client.request(['a2'], { signal: early.signal });
    early.abort(new Error('changed my mind'));
    await expect(abortedAtOnce).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    const started = Date.now();
    await expect(client.request(['b'], { timeoutMs: 100, retries: 0 })).rejects.toMatchObject({
      code: 'ERR_PIRATE_NO_REPLY',
      attempts: 1,
    });
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('SimplePirateQueue and SimplePirateWorker: close twice, await using, closed()', async () => {
    const queue = await SimplePirateQueue.start(endpoints);
    const worker = new SimplePirateWorker(queue.endpoints.backend, echo);
    await expectClosesOnce(worker);
    await expectClosesOnce(queue);
    await expectAwaitUsing(() => SimplePirateQueue.start(endpoints));
    const other = track(await SimplePirateQueue.start(endpoints));
    await expectAwaitUsing(() => new SimplePirateWorker(other.endpoints.backend, echo));
  });

  it('ParanoidPirateQueue and ParanoidPirateWorker: close twice, await using, closed()', async () => {
    const queue = await ParanoidPirateQueue.start(endpoints);
    const worker = new ParanoidPirateWorker(queue.endpoints.backend, echo);
    await expectClosesOnce(worker);
    await expectClosesOnce(queue);
    await expectAwaitUsing(() => ParanoidPirateQueue.start(endpoints));
    const other = track(await ParanoidPirateQueue.start(endpoints));
    await expectAwaitUsing(() => new ParanoidPirateWorker(other.endpoints.backend, echo));
  });

  it('ParanoidPirateWorker: closed() resolves with the error when it gives up on its own; close() after is a no-op', async () => {
    const router = track(await rawRouter());
    const worker = track(
      new ParanoidPirateWorker(router.endpoint, echo, {
        heartbeatIntervalMs: 50,
        liveness: 2,
        reconnectDelayMs: constantBackoff(10, 1),
      }),
    );
    await expect(worker.closed()).resolves.toMatchObject({ code: 'ERR_PIRATE_GAVE_UP' });
    await expect(worker.close()).resolves.toBeUndefined();
    await expect(worker.close()).resolves.toBeUndefined();
  });
});
