/**
 * Paranoid Pirate (6/PPP) on real sockets, heartbeat 100 ms x liveness 3:
 *
 *   LazyPirateClient / raw REQ --> [frontend] ParanoidPirateQueue [backend] <-- ParanoidPirateWorker / raw DEALER
 *                                                       [worker-id][0x02] every 100 ms -->
 *                                                  <-- [0x01] READY, [0x02] HEARTBEAT
 *
 * Raw peers speak the protocol by hand, so each side is checked against the exact frames of the
 * spec, not only against its own counterpart.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  constantBackoff,
  exponentialBackoff,
  ManualClock,
  toError,
  type ComponentStatus,
  type Message,
  type RequestHandler,
} from '@zpatterns/core';
import {
  LazyPirateClient,
  ParanoidPirateQueue,
  ParanoidPirateWorker,
  type ParanoidPirateQueueOptions,
  type ParanoidPirateWorkerOptions,
  type ParanoidPirateWorkerStatus,
} from '@zpatterns/pirate';
import {
  eventually,
  rawDealer,
  rawRequest,
  rawRouter,
  randomMessage,
  seededRandom,
  useDisposables,
} from '@zpatterns/testkit';

const HB = 100;
const s = (text: string): Buffer => Buffer.from(text);
const hexes = (frames: Message): string[] => frames.map((f) => f.toString('hex'));
const E = Buffer.alloc(0);
const isHeartbeat = (m: Message): boolean => m.length === 1 && m[0]?.[0] === 0x02;

const { track } = useDisposables();

async function startQueue(options: ParanoidPirateQueueOptions = {}): Promise<ParanoidPirateQueue> {
  return track(
    await ParanoidPirateQueue.start({
      frontend: 'tcp://127.0.0.1:*',
      backend: 'tcp://127.0.0.1:*',
      heartbeatIntervalMs: HB,
      liveness: 3,
      ...options,
    }),
  );
}

const echo: RequestHandler = (body) => body;

function startWorker(
  endpoint: string,
  handler: RequestHandler = echo,
  options: Partial<ParanoidPirateWorkerOptions> = {},
): ParanoidPirateWorker {
  const worker = track(
    new ParanoidPirateWorker({
      queue: endpoint,
      handler,
      heartbeatIntervalMs: HB,
      liveness: 3,
      reconnectDelay: exponentialBackoff({ initialMs: 50, maxMs: 200 }),
      ...options,
    }),
  );
  // start() opens the socket and sends READY before its first await: status() taken after this
  // call misses only the first 'connected', as the tests expect.
  void worker.start().catch(() => undefined);
  return worker;
}

type WorkerEvent = ParanoidPirateWorkerStatus | ComponentStatus;

async function nextStatus<E extends { type: string } = WorkerEvent>(
  iterator: AsyncIterator<E>,
  type: E['type'],
): Promise<E> {
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) throw new Error(`status ended before ${type}`);
    if (next.value.type === type) return next.value;
  }
}

describe('ParanoidPirateQueue + ParanoidPirateWorker', () => {
  it('serves Lazy Pirate requests through the queue, spreading them over the workers', async () => {
    const queue = await startQueue();
    const served: string[] = [];
    for (const name of ['a', 'b']) {
      startWorker(queue.endpoints.backend, (body) => {
        served.push(name);
        return [s(name), ...body];
      });
    }
    await eventually(() => queue.workers.ready === 2);
    const client = track(await LazyPirateClient.start({ servers: queue.endpoints.frontend, attemptTimeoutMs: 1000 }));
    for (let i = 0; i < 6; i++) {
      const reply = await client.request([String(i)]);
      expect(reply[1]?.toString()).toBe(String(i));
    }
    expect(served.filter((n) => n === 'a')).toHaveLength(3);
    expect(served.filter((n) => n === 'b')).toHaveLength(3);
    expect(queue.stats).toMatchObject({ requests: 6, dispatched: 6, replies: 6, malformedFromWorkers: 0 });
  });

  it('a busy worker keeps heartbeating, stays alive past the expiry, and gets no second request', async () => {
    const queue = await startQueue();
    let release: () => void = () => undefined;
    const slow = new Promise<void>((r) => (release = r));
    const worker = startWorker(queue.endpoints.backend, async (body) => {
      await slow;
      return body;
    });
    await eventually(() => queue.workers.ready === 1);
    const c1 = track(rawRequest(queue.endpoints.frontend));
    const c2 = track(rawRequest(queue.endpoints.frontend));
    await c1.send(['first']);
    await c2.send(['second']);
    await new Promise((r) => setTimeout(r, HB * 5)); // well past 3 x 100 ms
    expect(queue.workers).toEqual({ ready: 0, busy: 1 });
    expect(queue.queued).toBe(1);
    expect(worker.stats.requests).toBe(1);
    expect(worker.stats.reconnects).toBe(0);
    release();
    expect((await c1.receive(2000))[0]?.toString()).toBe('first');
    expect((await c2.receive(2000))[0]?.toString()).toBe('second');
  });

  it('a handler that throws does not kill the worker; it re-sends READY and serves on', async () => {
    const queue = await startQueue();
    let calls = 0;
    const worker = startWorker(queue.endpoints.backend, (body) => {
      if (++calls === 1) throw new Error('boom');
      return body;
    });
    await eventually(() => queue.workers.ready === 1);
    const client = track(await LazyPirateClient.start({ servers: queue.endpoints.frontend, attemptTimeoutMs: 300 }));
    expect((await client.request(['x']))[0]?.toString()).toBe('x');
    expect(worker.stats.handlerErrors).toBe(1);
    expect(client.stats.retries).toBe(1);
    expect(worker.connected).toBe(true);
  });

  it('mismatched intervals (queue 100 ms, worker 500 ms): the queue keeps expiring a healthy worker (docs: the classic mistake)', async () => {
    const queue = await startQueue();
    const worker = startWorker(queue.endpoints.backend, echo, { heartbeatIntervalMs: 500 });
    await eventually(() => queue.stats.expiredWorkers >= 2, { timeoutMs: 3000 });
    expect(queue.stats.workersRegistered).toBeGreaterThanOrEqual(2); // re-added on each heartbeat, then expired again
    expect(worker.connected).toBe(true); // the worker hears the queue every 100 ms and sees nothing wrong
    expect(worker.stats.reconnects).toBe(0);
  });
});

describe('status feeds on real sockets', () => {
  it('a killed queue: the worker reports disconnected (silent), then reconnecting, then connected once a queue answers again', async () => {
    const queue = await startQueue();
    const backend = queue.endpoints.backend;
    const worker = startWorker(backend);
    const status = worker.status();
    expect(await nextStatus(status, 'connected')).toEqual({ type: 'connected', peer: backend, session: 1 });
    expect(worker.connected).toBe(true);
    await queue.close();
    const disconnected = await nextStatus(status, 'disconnected');
    expect(disconnected).toMatchObject({ type: 'disconnected', peer: backend, reason: 'silent', session: 1 });
    if (disconnected.type === 'disconnected') expect(disconnected.silentMs).toBeGreaterThanOrEqual(3 * HB);
    expect(worker.connected).toBe(false);
    expect(await nextStatus(status, 'reconnecting')).toEqual({
      type: 'reconnecting',
      peer: backend,
      attempt: 1,
      delayMs: 50,
    });
    await startQueue({ backend });
    expect(await nextStatus(status, 'connected')).toMatchObject({ type: 'connected', peer: backend });
    expect(worker.connected).toBe(true);
    expect(worker.running).toBe(true);
  });

  it('the queue reports worker-ready when a worker joins and worker-removed (silent) when it falls silent', async () => {
    const queue = await startQueue();
    const status = queue.status();
    const worker = track(rawDealer(queue.endpoints.backend));
    await worker.send([Buffer.from([0x01])]);
    const ready = await nextStatus(status, 'worker-ready');
    expect(ready.type === 'worker-ready' && /^[0-9a-f]+$/.test(ready.worker)).toBe(true);
    const expired = await nextStatus(status, 'worker-removed');
    expect(expired).toMatchObject({ type: 'worker-removed', reason: 'silent', busy: false });
    if (ready.type === 'worker-ready' && expired.type === 'worker-removed') expect(expired.worker).toBe(ready.worker);
    expect(queue.stats.expiredWorkers).toBe(1);
  });
});

describe('ParanoidPirateWorker against a raw ROUTER (the queue side by hand)', () => {
  it('sends [0x01] first, then [0x02] every interval; answers [client][""][body] with the same envelope', async () => {
    const router = track(await rawRouter());
    startWorker(router.endpoint, (body) => [s('re:'), ...body]);
    const ready = await router.receive(2000);
    expect(ready).toHaveLength(2);
    expect(hexes(ready)[1]).toBe('01');
    const id = ready[0] as Buffer;
    const t0 = Date.now();
    const beat = await router.receive(2000);
    expect(hexes(beat)).toEqual([id.toString('hex'), '02']);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(HB * 0.5);
    await router.send([id, s('client-1'), E, s('hello')]);
    const reply = await router.receiveMatching((m) => m.length > 2, 2000);
    expect(reply.map(String)).toEqual([id.toString(), 'client-1', '', 're:', 'hello']);
  });

  it('detects a silent queue, reconnects on a new socket with doubling backoff, and re-sends READY', async () => {
    const router = track(await rawRouter());
    const worker = startWorker(router.endpoint);
    const status = worker.status();
    const first = await router.receive(2000);
    expect(hexes(first)[1]).toBe('01');
    // Never answer: 3 x 100 ms later the worker gives up on this socket (never connected, so
    // only reconnecting is reported).
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const scheduled = await nextStatus(status, 'reconnecting');
      if (scheduled.type === 'reconnecting') delays.push(scheduled.delayMs);
    }
    expect(delays).toEqual([50, 100, 200]);
    expect(worker.connected).toBe(false);
    const readies = await eventually(async () => {
      const ids = new Set<string>();
      while (router.pending > 0) {
        const m = await router.receive(0);
        if (m.length === 2 && m[1]?.[0] === 0x01) ids.add(m[0]?.toString('hex') ?? '');
      }
      return ids.size >= 2 ? ids : undefined;
    });
    expect(readies.has(first[0]?.toString('hex') ?? '')).toBe(false); // every READY from a new socket
    await eventually(() => worker.stats.reconnects >= 3); // the third one 200 ms after it was scheduled
  });

  it('any message from the queue resets the backoff', async () => {
    const router = track(await rawRouter());
    const worker = startWorker(router.endpoint, echo, {
      reconnectDelay: exponentialBackoff({ initialMs: 40, maxMs: 1000 }),
    });
    const status = worker.status();
    await nextStatus(status, 'reconnecting'); // attempt 1: 40
    const scheduled2 = await nextStatus(status, 'reconnecting'); // attempt 2: 80
    expect(scheduled2).toMatchObject({ attempt: 2, delayMs: 80 });
    // Now play a live queue: answer whatever arrives with a heartbeat to its sender (stale
    // identities are dropped by the ROUTER) until the worker has heard from us.
    await eventually(
      async () => {
        while (router.pending > 0) {
          const m = await router.receive(0);
          await router.send([m[0] as Buffer, Buffer.from([0x02])]);
        }
        return worker.stats.heartbeatsReceived > 0;
      },
      { intervalMs: 5, timeoutMs: 2000 },
    );
    expect(await nextStatus(status, 'connected')).toMatchObject({ peer: router.endpoint });
    const scheduled3 = await nextStatus(status, 'reconnecting');
    expect(scheduled3).toMatchObject({ attempt: 1, delayMs: 40 });
  });

  it("the handler's signal aborts when the queue falls silent (its reply could not be sent), and on close", async () => {
    const router = track(await rawRouter());
    const signals: AbortSignal[] = [];
    const hang: RequestHandler = (_body, { signal }) => {
      signals.push(signal);
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(toError(signal.reason))));
    };
    const worker = startWorker(router.endpoint, hang);
    const id = (await router.receive(2000))[0] as Buffer;
    await router.send([id, s('c'), E, s('x')]);
    await eventually(() => signals.length === 1);
    expect(signals[0]?.aborted).toBe(false);
    // The router never heartbeats: 3 x 100 ms later the socket, and the request with it, is dropped.
    await eventually(() => signals[0]?.aborted === true, { timeoutMs: 2000 });
    const again = await router.receiveMatching((m) => m.length === 2 && m[1]?.[0] === 0x01, 2000);
    await router.send([again[0] as Buffer, s('c'), E, s('y')]);
    await eventually(() => signals.length === 2);
    expect(signals[1]?.aborted).toBe(false);
    await worker.close();
    expect(signals[1]?.aborted).toBe(true);
  });

  it('drops invalid frames from the queue and keeps serving', async () => {
    const router = track(await rawRouter());
    const worker = startWorker(router.endpoint);
    const id = (await router.receive(2000))[0] as Buffer;
    await router.send([id, Buffer.from([0x07])]);
    await router.send([id, s('no-delimiter'), s('x')]);
    await router.send([id, E, s('no-address')]);
    await router.send([id, s('c'), E, s('ok')]);
    const reply = await router.receiveMatching((m) => m.length > 2, 2000);
    expect(reply.slice(1).map(String)).toEqual(['c', '', 'ok']);
    expect(worker.stats.malformed).toBe(3);
  });

  it('gives up and closes with GaveUpError when the policy says so', async () => {
    const router = track(await rawRouter());
    const worker = startWorker(router.endpoint, echo, { reconnectDelay: constantBackoff(10, 1) });
    const error = await worker.closed();
    // One reconnect allowed: the first connection and one more, both silent.
    expect(error).toMatchObject({ name: 'GaveUpError', code: 'ERR_GAVE_UP', attempts: 2 });
    expect(worker.lifecycle).toBe('closed');
    expect(worker.connected).toBe(false);
  });
});

describe('ParanoidPirateQueue against raw DEALER workers (the worker side by hand)', () => {
  it('heartbeats a READY worker with [0x02] and sends it requests as [client-id][""][body]', async () => {
    const queue = await startQueue();
    const worker = track(rawDealer(queue.endpoints.backend));
    await worker.send([Buffer.from([0x01])]);
    expect(hexes(await worker.receive(2000))).toEqual(['02']);
    const client = track(rawRequest(queue.endpoints.frontend));
    await client.send(['ping']);
    const request = await worker.receiveMatching((m) => !isHeartbeat(m), 2000);
    expect(request).toHaveLength(3);
    expect(request[1]?.length).toBe(0);
    expect(request[2]?.toString()).toBe('ping');
    await worker.send([request[0] as Buffer, E, s('pong')]);
    expect((await client.receive(2000)).map(String)).toEqual(['pong']);
  });

  it('purges a silent worker within the expiry and never sends it work; the next live worker gets it', async () => {
    const queue = await startQueue();
    const silent = track(rawDealer(queue.endpoints.backend));
    await silent.send([Buffer.from([0x01])]);
    await eventually(() => queue.workers.ready === 1);
    const joinedAt = Date.now();
    await eventually(() => queue.stats.expiredWorkers === 1, { timeoutMs: 2000, intervalMs: 5 });
    const expiredAfter = Date.now() - joinedAt;
    expect(expiredAfter).toBeGreaterThanOrEqual(3 * HB - 30);
    expect(expiredAfter).toBeLessThan(3 * HB + 2 * HB + 150); // purge runs at least every interval
    const client = track(rawRequest(queue.endpoints.frontend));
    await client.send(['work']);
    await eventually(() => queue.queued === 1);
    const live = track(rawDealer(queue.endpoints.backend));
    await live.send([Buffer.from([0x01])]);
    const request = await live.receiveMatching((m) => !isHeartbeat(m), 2000);
    expect(request[2]?.toString()).toBe('work');
    while (silent.pending > 0) expect(isHeartbeat(await silent.receive(0))).toBe(true);
  });

  it('a heartbeat from a busy worker does not make it ready (unlike ppqueue.c)', async () => {
    const queue = await startQueue();
    const worker = track(rawDealer(queue.endpoints.backend));
    await worker.send([Buffer.from([0x01])]);
    await eventually(() => queue.workers.ready === 1);
    const c1 = track(rawRequest(queue.endpoints.frontend));
    const c2 = track(rawRequest(queue.endpoints.frontend));
    await c1.send(['one']);
    const first = await worker.receiveMatching((m) => !isHeartbeat(m), 2000);
    await worker.send([Buffer.from([0x02])]);
    await c2.send(['two']);
    await eventually(() => queue.queued === 1);
    expect(queue.workers).toEqual({ ready: 0, busy: 1 });
    await worker.send([first[0] as Buffer, E, s('one-done')]);
    const second = await worker.receiveMatching((m) => !isHeartbeat(m), 2000);
    expect(second[2]?.toString()).toBe('two');
    expect((await c1.receive(2000))[0]?.toString()).toBe('one-done');
  });

  it('bounds the backlog by bytes: with no worker, NEW requests are refused past it, the accepted ones kept', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as never) });
    // Each request here costs about 150 bytes (96 + frames + 16 per frame): room for two.
    // A manual clock: the one-warning-per-second budget must not depend on how fast this machine is.
    const queue = await startQueue({ maxQueuedBytes: 400, logger, clock: new ManualClock(1_000_000) });
    const saturated = queue.waitFor('saturated', { timeoutMs: 5000 });
    const clients = [1, 2, 3, 4].map(() => track(rawRequest(queue.endpoints.frontend)));
    for (const [i, c] of clients.entries()) {
      await c.send([`r${i + 1}`]);
      await eventually(() => queue.stats.requests === i + 1);
    }
    expect(queue.queued).toBe(2);
    expect(queue.queuedBytes).toBeGreaterThan(200);
    expect(queue.queuedBytes).toBeLessThanOrEqual(400);
    expect(queue.stats.refused).toBe(2);
    // Two refusals within the same second: one warning, with the figures.
    const refusals = lines.filter((l) => l['msg'] === 'queued bytes at maxQueuedBytes, new request refused');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ queuedRequests: 2, maxQueuedBytes: 400, refused: 1 });
    expect(await saturated).toEqual({ type: 'saturated', queued: queue.queuedBytes, limit: 400 });
    const drained = queue.waitFor('drained', { timeoutMs: 5000 });
    const worker = track(rawDealer(queue.endpoints.backend));
    await worker.send([Buffer.from([0x01])]);
    const first = await worker.receiveMatching((m) => !isHeartbeat(m), 2000);
    expect(first[2]?.toString()).toBe('r1');
    await worker.send([first[0] as Buffer, E, s('r1-done')]);
    const second = await worker.receiveMatching((m) => !isHeartbeat(m), 2000);
    expect(second[2]?.toString()).toBe('r2');
    expect((await clients[0]?.receive(2000))?.[0]?.toString()).toBe('r1-done');
    expect(queue.queuedBytes).toBe(0);
    expect(await drained).toEqual({ type: 'drained', queued: 0 }); // once, when the backlog emptied
  });

  it('forgets a worker whose connection is gone before it expires (send fails, mandatory ROUTER)', async () => {
    const queue = await startQueue();
    const worker = rawDealer(queue.endpoints.backend);
    await worker.send([Buffer.from([0x01])]);
    await eventually(() => queue.workers.ready === 1);
    await worker.close();
    await eventually(() => queue.stats.unreachableWorkers + queue.stats.expiredWorkers === 1, { timeoutMs: 2000 });
    expect(queue.workers).toEqual({ ready: 0, busy: 0 });
  });

  it('logs, counts and drops garbage from clients and workers, and keeps serving (seeded fuzz)', async () => {
    const queue = await startQueue();
    const random = seededRandom(0x5eed);
    const vocabulary = [Buffer.from([0x01]), Buffer.from([0x02]), E, s('1')];
    const badWorker = track(rawDealer(queue.endpoints.backend));
    const badClient = track(rawDealer(queue.endpoints.frontend));
    for (let i = 0; i < 200; i++) {
      const frames = randomMessage(random, vocabulary);
      if (frames.length === 0) continue;
      await (i % 2 === 0 ? badWorker : badClient).send(frames);
    }
    const good = startWorker(queue.endpoints.backend);
    await eventually(() => queue.workers.ready >= 1);
    const client = track(
      await LazyPirateClient.start({ servers: queue.endpoints.frontend, attemptTimeoutMs: 500, retries: 5 }),
    );
    expect((await client.request(['still-alive']))[0]?.toString()).toBe('still-alive');
    expect(queue.stats.malformedFromWorkers + queue.stats.malformedFromClients).toBeGreaterThan(0);
    expect(good.connected).toBe(true);
  });
});
