/**
 * The shared lifecycle of every long-lived Majordomo object, on real sockets: `close()` twice,
 * `await using`, `closed()` (pending until the end, `undefined` after close, the error after a
 * failure of its own), and the per-call `{ timeoutMs, signal }` of the calls that wait.
 */
import { Broker, MajordomoClient, MajordomoPipeline, MajordomoWorker } from '@zpatterns/majordomo';
import { rawRouter, useDisposables, expectClosesOnce, type LongLived } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

const { track } = useDisposables();
const HB = { heartbeatIntervalMs: 100, liveness: 3 } as const;

async function startBroker(): Promise<{ broker: Broker; endpoint: string }> {
  const broker = await Broker.start({ bind: 'tcp://127.0.0.1:*', ...HB });
  const endpoint = broker.endpoints.clients[0] as string;
  return { broker, endpoint };
}

describe('Majordomo lifecycle', () => {
  it('Broker, MajordomoWorker, MajordomoClient, MajordomoPipeline: close twice, closed()', async () => {
    const { broker, endpoint } = await startBroker();
    const worker = new MajordomoWorker({ broker: endpoint, service: 'echo', ...HB, handler: (request) => request });
    await worker.start();
    const serving = worker.closed();
    const client = await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 5000 });
    expect((await client.request('echo', 'hi')).map(String)).toEqual(['hi']);
    const pipeline = await MajordomoPipeline.start({ broker: endpoint });
    await expectClosesOnce(pipeline);
    await expectClosesOnce(client);
    await expectClosesOnce(worker);
    await serving;
    await expectClosesOnce(broker);
  });

  it('await using closes each of them', async () => {
    let kept: LongLived[] = [];
    {
      const { broker, endpoint } = await startBroker();
      await using b = broker;
      await using worker = await MajordomoWorker.start({ broker: endpoint, service: 'echo', ...HB });
      await using client = await MajordomoClient.start({ broker: endpoint });
      await using pipeline = await MajordomoPipeline.start({ broker: endpoint });
      kept = [b, worker, client, pipeline];
    }
    for (const target of kept) await expect(target.closed()).resolves.toBeUndefined();
  });

  it('MajordomoWorker: closed() resolves with GaveUpError when it gives up on its own', async () => {
    const router = track(await rawRouter());
    const worker = track(
      new MajordomoWorker({
        broker: router.endpoint,
        service: 'svc',
        heartbeatIntervalMs: 20,
        liveness: 2,
        reconnectDelay: () => null,
        handler: (r) => r,
      }),
    );
    await worker.start();
    await expect(worker.closed()).resolves.toMatchObject({ code: 'ERR_GAVE_UP', attempts: 1 });
    await expect(worker.close()).resolves.toBeUndefined();
  });

  it('MajordomoClient.request and MajordomoPipeline.recv: a per-call signal aborts, a per-call timeoutMs ends the wait', async () => {
    const { broker, endpoint } = await startBroker();
    track(broker);
    const client = track(await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 60_000, retries: 0 }));
    const controller = new AbortController();
    const aborted = client.request('nobody', 'x', { signal: controller.signal });
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError', code: 'ERR_ABORTED' });
    await expect(client.request('nobody', 'x', { timeoutMs: 100, retries: 0 })).rejects.toMatchObject({
      code: 'ERR_TIMEOUT',
    });

    const pipeline = track(await MajordomoPipeline.start({ broker: endpoint, timeoutMs: 60_000 }));
    const recvController = new AbortController();
    const waiting = pipeline.recv({ signal: recvController.signal });
    recvController.abort(reason);
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_ABORTED', cause: reason });
    await expect(pipeline.recv({ timeoutMs: 100 })).rejects.toMatchObject({
      name: 'TimeoutError',
      code: 'ERR_TIMEOUT',
    });
  });
});
