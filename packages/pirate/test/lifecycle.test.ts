/**
 * The shared lifecycle of every long-lived Pirate object, on real sockets: `close()` twice,
 * `await using`, `closed()` (pending until the end, `undefined` after close, the error after a
 * failure of its own), nothing opened before `start()`, and the per-call `{ timeoutMs, signal }`
 * of a waiting call.
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
  it('LazyPirateClient: close twice, await using, closed(), started or never started', async () => {
    await expectClosesOnce(await LazyPirateClient.start({ servers: 'tcp://127.0.0.1:5', attemptTimeoutMs: 1000 }));
    await expectClosesOnce(new LazyPirateClient({ servers: 'tcp://127.0.0.1:5' }));
    await expectAwaitUsing(() => LazyPirateClient.start({ servers: 'tcp://127.0.0.1:5' }));
  });

  it('LazyPirateClient: a per-call signal aborts the wait with AbortError, a per-call timeoutMs ends it', async () => {
    const router = track(await rawRouter());
    const client = track(
      await LazyPirateClient.start({ servers: router.endpoint, attemptTimeoutMs: 60_000, retries: 0 }),
    );
    const controller = new AbortController();
    const aborted = client.request(['a'], { signal: controller.signal });
    await router.receive(5000);
    controller.abort(new Error('caller gave up'));
    await expect(aborted).rejects.toMatchObject({ code: 'ERR_ABORTED', name: 'AbortError' });
    const early = new AbortController();
    early.abort(new Error('changed my mind'));
    await expect(client.request(['a2'], { signal: early.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    const started = Date.now();
    await expect(client.request(['b'], { timeoutMs: 100 })).rejects.toMatchObject({
      code: 'ERR_TIMEOUT',
      name: 'TimeoutError',
      attempts: 1,
    });
    // At the call's timeoutMs (100), not at the client's 60 s attempt timeout: the margin is for a
    // loaded machine's timers.
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(95);
    expect(elapsed).toBeLessThan(100 + 1000);
  });

  it('SimplePirateQueue and SimplePirateWorker: close twice, await using, closed()', async () => {
    const queue = await SimplePirateQueue.start(endpoints);
    const worker = await SimplePirateWorker.start({ queue: queue.endpoints.backend, handler: echo });
    await expectClosesOnce(worker);
    await expectClosesOnce(queue);
    await expectClosesOnce(new SimplePirateQueue(endpoints));
    await expectClosesOnce(new SimplePirateWorker({ queue: 'tcp://127.0.0.1:5', handler: echo }));
    await expectAwaitUsing(() => SimplePirateQueue.start(endpoints));
    const other = track(await SimplePirateQueue.start(endpoints));
    await expectAwaitUsing(() => SimplePirateWorker.start({ queue: other.endpoints.backend, handler: echo }));
  });

  it('ParanoidPirateQueue and ParanoidPirateWorker: close twice, await using, closed()', async () => {
    const queue = await ParanoidPirateQueue.start(endpoints);
    const worker = await ParanoidPirateWorker.start({ queue: queue.endpoints.backend, handler: echo });
    await expectClosesOnce(worker);
    await expectClosesOnce(queue);
    await expectClosesOnce(new ParanoidPirateQueue(endpoints));
    await expectClosesOnce(new ParanoidPirateWorker({ queue: 'tcp://127.0.0.1:5', handler: echo }));
    await expectAwaitUsing(() => ParanoidPirateQueue.start(endpoints));
    const other = track(await ParanoidPirateQueue.start(endpoints));
    await expectAwaitUsing(() => ParanoidPirateWorker.start({ queue: other.endpoints.backend, handler: echo }));
  });

  it('new opens nothing: a queue made twice on one port binds only when started', async () => {
    const first = track(await ParanoidPirateQueue.start(endpoints));
    const { frontend, backend } = first.endpoints;
    const second = new ParanoidPirateQueue({ frontend, backend });
    expect(() => second.endpoints).toThrow(expect.objectContaining({ code: 'ERR_NOT_STARTED' }));
    await expect(second.start()).rejects.toThrow();
    await expect(second.closed()).resolves.toBeInstanceOf(Error);
  });

  it('ParanoidPirateWorker: closed() resolves with the error when it gives up on its own; close() after is a no-op', async () => {
    const router = track(await rawRouter());
    const worker = track(
      await ParanoidPirateWorker.start({
        queue: router.endpoint,
        handler: echo,
        heartbeatIntervalMs: 50,
        liveness: 2,
        reconnectDelay: constantBackoff(10, 1),
      }),
    );
    await expect(worker.closed()).resolves.toMatchObject({ code: 'ERR_GAVE_UP' });
    await expect(worker.close()).resolves.toBeUndefined();
    await expect(worker.close()).resolves.toBeUndefined();
  });

  it('bad options throw InvalidArgumentError from the constructor', () => {
    expect(() => new ParanoidPirateQueue({ heartbeatIntervalMs: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(() => new ParanoidPirateWorker({ queue: 'tcp://127.0.0.1:5', handler: echo, liveness: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });
});
