/**
 * Simple Pirate on real sockets:
 *
 *   LazyPirateClient / raw REQ --> [frontend] SimplePirateQueue [backend] <-- SimplePirateWorker (REQ)
 *                                      [worker-id][""][0x01] READY <--
 *      [client-id][""][body] --> LRU free worker --> [worker-id][""][client-id][""][body]
 */
import { describe, expect, it } from 'vitest';
import type { RequestHandler } from '@zpatterns/core';
import { LazyPirateClient, SimplePirateQueue, SimplePirateWorker } from '@zpatterns/pirate';
import { eventually, rawDealer, rawRequest, useDisposables } from '@zpatterns/testkit';

const s = (text: string): Buffer => Buffer.from(text);
const E = Buffer.alloc(0);

const { track } = useDisposables();

async function startQueue(): Promise<SimplePirateQueue> {
  return track(await SimplePirateQueue.start({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' }));
}

function startWorkers(queue: SimplePirateQueue, names: string[], handler?: (name: string) => RequestHandler) {
  const served = new Map<string, string[]>(names.map((n) => [n, []]));
  const workers = names.map((name) =>
    track(
      new SimplePirateWorker({
        queue: queue.endpoints.backend,
        handler:
          handler?.(name) ??
          ((body) => {
            served.get(name)?.push(body[0]?.toString() ?? '');
            return [s(name), ...body];
          }),
      }),
    ),
  );
  // Each start() opens its socket at once; the tests wait for the queue to see the workers.
  for (const worker of workers) void worker.start().catch(() => undefined);
  return { served, workers };
}

describe('SimplePirateQueue + SimplePirateWorker', () => {
  it('dispatches fairly: sequential requests go round the workers in LRU order', async () => {
    const queue = await startQueue();
    const { served } = startWorkers(queue, ['a', 'b', 'c']);
    await eventually(() => queue.readyWorkers === 3);
    const client = track(await LazyPirateClient.start({ servers: queue.endpoints.frontend, attemptTimeoutMs: 1000 }));
    const order: string[] = [];
    for (let i = 0; i < 30; i++) {
      const reply = await client.request([String(i)]);
      expect(reply[1]?.toString()).toBe(String(i));
      order.push(reply[0]?.toString() ?? '');
    }
    for (const name of ['a', 'b', 'c']) expect(served.get(name)).toHaveLength(10);
    // Strict rotation: no worker is chosen twice while another has been waiting longer.
    for (let i = 3; i < order.length; i++) expect(order[i]).toBe(order[i - 3]);
  });

  it('spreads concurrent clients evenly over slow workers', async () => {
    const queue = await startQueue();
    const counts = new Map<string, number>();
    startWorkers(queue, ['a', 'b', 'c'], (name) => async (body) => {
      counts.set(name, (counts.get(name) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 30));
      return body;
    });
    await eventually(() => queue.readyWorkers === 3);
    const clients = await Promise.all(
      Array.from({ length: 9 }, async () =>
        track(await LazyPirateClient.start({ servers: queue.endpoints.frontend, attemptTimeoutMs: 2000 })),
      ),
    );
    const replies = await Promise.all(clients.map((c, i) => c.request([`r${i}`])));
    expect(replies.map((r) => r[0]?.toString())).toEqual(clients.map((_, i) => `r${i}`));
    expect([...counts.values()]).toEqual([3, 3, 3]);
  });

  it('serves a client whose identity starts with 0x01 (the book misreads its replies as READY)', async () => {
    const queue = await startQueue();
    startWorkers(queue, ['a']);
    await eventually(() => queue.readyWorkers === 1);
    const client = track(rawRequest(queue.endpoints.frontend, { routingId: '\x01client' }));
    await client.send(['hi']);
    expect((await client.receive(2000)).map(String)).toEqual(['a', 'hi']);
    expect(queue.stats.malformedFromWorkers).toBe(0);
    await eventually(() => queue.readyWorkers === 1);
  });

  it('a throwing handler does not kill the worker: it starts over on a new REQ and the retry succeeds', async () => {
    const queue = await startQueue();
    let calls = 0;
    const { workers } = startWorkers(queue, ['a'], () => (body) => {
      if (++calls === 1) throw new Error('boom');
      return body;
    });
    await eventually(() => queue.readyWorkers === 1);
    const client = track(await LazyPirateClient.start({ servers: queue.endpoints.frontend, attemptTimeoutMs: 300 }));
    expect((await client.request(['x']))[0]?.toString()).toBe('x');
    expect(workers[0]?.stats).toMatchObject({ handlerErrors: 1, sockets: 2, replies: 1 });
  });

  it('status feeds: the queue reports worker-ready for each new REQ socket; the worker connected on its first request, disconnected (error) when its handler throws', async () => {
    const queue = await startQueue();
    const queueStatus = queue.status();
    let calls = 0;
    const worker = track(
      new SimplePirateWorker({
        queue: queue.endpoints.backend,
        handler: (body) => {
          if (++calls === 1) throw new Error('boom');
          return body;
        },
      }),
    );
    const workerStatus = worker.status();
    await worker.start();
    const first = await queueStatus.next();
    expect(first.value).toMatchObject({ type: 'worker-ready' });
    const client = track(await LazyPirateClient.start({ servers: queue.endpoints.frontend, attemptTimeoutMs: 300 }));
    expect((await client.request(['x']))[0]?.toString()).toBe('x');
    const second = await queueStatus.next(); // the new socket has a new routing id
    expect(second.value).toMatchObject({ type: 'worker-ready' });
    expect(second.value).not.toEqual(first.value);
    await worker.close();
    const events = [];
    for await (const event of workerStatus) events.push(event);
    expect(events).toEqual([
      { type: 'started' },
      { type: 'connected', peer: queue.endpoints.backend, session: 1 },
      { type: 'disconnected', peer: queue.endpoints.backend, reason: 'error', session: 1 },
      { type: 'reconnecting', peer: queue.endpoints.backend, attempt: 1, delayMs: 0 },
      { type: 'connected', peer: queue.endpoints.backend, session: 2 },
      { type: 'closed' },
    ]);
  });

  it('queues requests until a worker is ready, and drops garbage from both sides', async () => {
    const queue = await startQueue();
    const client = track(rawRequest(queue.endpoints.frontend));
    await client.send(['early']);
    const junkClient = track(rawDealer(queue.endpoints.frontend));
    await junkClient.send([s('no-delimiter')]);
    const junkWorker = track(rawDealer(queue.endpoints.backend));
    await junkWorker.send([E, Buffer.from([0x01, 0x01])]);
    await junkWorker.send([s('x')]);
    await eventually(() => queue.stats.malformedFromClients === 1 && queue.stats.malformedFromWorkers === 2);
    expect(queue.queued).toBe(1);
    startWorkers(queue, ['late']);
    expect((await client.receive(2000)).map(String)).toEqual(['late', 'early']);
  });
});
