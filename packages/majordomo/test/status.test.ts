/**
 * The status feeds of the broker, worker and client on real sockets, and the start/close rules
 * they share with every zpatterns component (nothing opens before `start()`, calls before it fail
 * with `NotStartedError`, a `close()` before `start()` ends the object).
 *
 *   RawWorker --READY--> Broker   => worker-ready, service-available
 *   (silence)                     => worker-removed (silent), service-unavailable
 *   raw ROUTER (silent "broker") <--READY-- MajordomoWorker  => connected, disconnected, reconnecting
 */
import { NotStartedError, TimeoutError } from '@zpatterns/core';
import { EMPTY } from '@zpatterns/core/internal';
import { rawRouter, useDisposables } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';
import {
  Broker,
  MajordomoClient,
  MajordomoPipeline,
  MajordomoWorker,
  type BrokerStatus,
  type WorkerStatus,
} from '../src/index.js';
import { MDPW01 } from '../src/protocol.js';
import { RawWorker, startBroker } from './broker-peers.js';

const { track } = useDisposables();

/** Read `feed` until an event of `type` arrives; returns it and every event before it. */
async function until<T extends { readonly type: string }, K extends T['type']>(
  feed: AsyncIterator<T>,
  type: K,
  seen: string[] = [],
): Promise<Extract<T, { type: K }>> {
  for (;;) {
    const next = await feed.next();
    if (next.done === true) throw new Error(`feed ended before ${type}; saw ${seen.join(', ')}`);
    seen.push(next.value.type);
    if (next.value.type === type) return next.value as Extract<T, { type: K }>;
  }
}

describe('Broker.status()', () => {
  it('reports a worker registering, expiring, and its service coming and going', async () => {
    await using ctx = await startBroker({ heartbeatIntervalMs: 100, liveness: 3 });
    const feed = ctx.broker.status();
    await using _worker = await RawWorker.ready(ctx.endpoint, 'echo', '0.2');
    const ready = await until<BrokerStatus | { type: 'started' | 'closed' }, 'worker-ready'>(feed, 'worker-ready');
    expect(ready).toEqual({ type: 'worker-ready', worker: ready.worker, service: 'echo' });
    expect(ready.worker).toMatch(/^[0-9a-f]+$/);
    expect(await feed.next()).toMatchObject({ value: { type: 'service-available', service: 'echo' } });
    // The raw worker never heartbeats: it expires after liveness x interval.
    const expired = await until(feed, 'worker-removed');
    expect(expired).toEqual({
      type: 'worker-removed',
      worker: ready.worker,
      reason: 'silent',
      busy: false,
      service: 'echo',
    });
    expect(await feed.next()).toEqual({ done: false, value: { type: 'service-unavailable', service: 'echo' } });
    expect(ctx.broker.stats.expiredWorkers).toBe(1);
  });

  it('reports a worker that says DISCONNECT as removed, and ends with closed', async () => {
    const ctx = await startBroker({ heartbeatIntervalMs: 1000 });
    const feed = ctx.broker.status();
    const worker = track(await RawWorker.ready(ctx.endpoint, 'svc'));
    const ready = await until(feed, 'worker-ready');
    await worker.send({ type: 'disconnect' });
    const seen: string[] = [];
    const removed = await until(feed, 'worker-removed', seen);
    expect(removed).toEqual({
      type: 'worker-removed',
      worker: ready.worker,
      reason: 'disconnect',
      busy: false,
      service: 'svc',
    });
    expect(await feed.next()).toMatchObject({ value: { type: 'service-unavailable', service: 'svc' } });
    await ctx.broker.close();
    expect(await feed.next()).toMatchObject({ value: { type: 'closed' } });
    expect(await feed.next()).toMatchObject({ done: true });
  });
});

describe('MajordomoWorker.status()', () => {
  it('connected when the broker is heard, disconnected (silent) after its silence, then reconnecting', async () => {
    const router = track(await rawRouter());
    const worker = track(
      new MajordomoWorker({
        broker: router.endpoint,
        service: 'svc',
        heartbeatIntervalMs: 50,
        liveness: 3,
        reconnectDelay: () => 20,
        handler: (body) => body,
      }),
    );
    const feed: AsyncIterator<WorkerStatus | { type: 'started' | 'closed' }> = worker.status();
    await worker.start();
    expect(await feed.next()).toMatchObject({ value: { type: 'started' } });
    const ready = await router.receiveMatching((m) => m[3]?.[0] === 0x01);
    // One HEARTBEAT from the "broker", then silence.
    await router.send([ready[0] as Buffer, EMPTY, MDPW01, Buffer.from([0x04])]);
    expect(await feed.next()).toEqual({ done: false, value: { type: 'connected', peer: router.endpoint, session: 1 } });
    const lost = await until(feed, 'disconnected');
    expect(lost).toMatchObject({ peer: router.endpoint, session: 1, reason: 'silent' });
    expect(lost.silentMs).toBeGreaterThanOrEqual(150);
    expect(await feed.next()).toEqual({
      done: false,
      value: { type: 'reconnecting', peer: router.endpoint, attempt: 1, delayMs: 20 },
    });
    // The new session registers again, on a fresh socket.
    const again = await router.receiveMatching((m) => m[3]?.[0] === 0x01);
    expect((again[0] as Buffer).equals(ready[0] as Buffer)).toBe(false);
    expect(worker.stats.brokerExpiries).toBe(1);
  });
});

describe('MajordomoClient.status()', () => {
  it('reports failover when an attempt times out on the first broker', async () => {
    const silent = track(await rawRouter());
    const ctx = track(await startBroker());
    track(
      await MajordomoWorker.start({
        broker: ctx.endpoint,
        service: 'echo',
        heartbeatIntervalMs: 1000,
        handler: (b) => b,
      }),
    );
    const client = track(
      await MajordomoClient.start({
        brokers: [silent.endpoint, ctx.endpoint],
        attemptTimeoutMs: 300,
        retries: 3,
        failoverDelayMs: 0,
      }),
    );
    const feed = client.status();
    expect((await client.request('echo', 'hi')).map(String)).toEqual(['hi']);
    expect(await feed.next()).toMatchObject({ value: { type: 'failover', from: silent.endpoint, to: ctx.endpoint } });
    expect(client.broker).toBe(ctx.endpoint);
    expect(client.stats).toMatchObject({ requests: 1, replies: 1, retries: 1 });
  });
});

describe('start and close before start', () => {
  it('calls before start() reject with NotStartedError; new opens nothing', async () => {
    const broker = track(new Broker({ bind: 'tcp://127.0.0.1:*' }));
    expect(broker.endpoints.clients).toEqual([]);
    await expect(broker.bind('tcp://127.0.0.1:*')).rejects.toBeInstanceOf(NotStartedError);
    const client = track(new MajordomoClient({ broker: 'tcp://127.0.0.1:9' }));
    await expect(client.request('echo', 'x')).rejects.toMatchObject({ code: 'ERR_NOT_STARTED' });
    const pipeline = track(new MajordomoPipeline({ broker: 'tcp://127.0.0.1:9' }));
    expect(() => pipeline.send('echo', 'x')).toThrow(NotStartedError);
    await expect(pipeline.recv()).rejects.toBeInstanceOf(NotStartedError);
    const worker = new MajordomoWorker({ broker: 'tcp://127.0.0.1:9', service: 'svc' });
    expect(worker.stats.sessions).toBe(0);
    await worker.close();
    await expect(worker.closed()).resolves.toBeUndefined();
    await expect(worker.start()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    expect(worker.stats.sessions).toBe(0);
  });

  it('start() is idempotent and resolves once bound', async () => {
    const broker = track(new Broker({ bind: ['tcp://127.0.0.1:*', 'tcp://127.0.0.1:*'] }));
    const first = broker.start();
    expect(broker.start()).toBe(first);
    await first;
    expect(broker.running).toBe(true);
    expect(broker.endpoints.clients).toHaveLength(2);
  });

  it('a bind that fails rejects start() with BrokerBindError and leaves the broker closed', async () => {
    const broker = new Broker({ bind: 'tcp://256.0.0.1:1' });
    await expect(broker.start()).rejects.toMatchObject({ code: 'ERR_BIND' });
    expect(broker.lifecycle).toBe('closed');
    await expect(broker.closed()).resolves.toMatchObject({ code: 'ERR_BIND' });
  });
});

describe('timeoutMs bounds the whole call', () => {
  it('MajordomoClient: rejects with TimeoutError however many attempts are left', async () => {
    await using ctx = await startBroker();
    const client = track(await MajordomoClient.start({ broker: ctx.endpoint, attemptTimeoutMs: 100, retries: 1000 }));
    const err = await client.request('nobody', 'x', { timeoutMs: 400 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'ERR_TIMEOUT' });
    expect((err as TimeoutError).attempts).toBeGreaterThanOrEqual(1);
    expect((err as Error).message).toMatch(/'nobody' timed out after 400 ms \(timeoutMs\)/);
    expect(client.stats).toMatchObject({ requests: 1, timeouts: 1, replies: 0 });
  });

  it('MajordomoPipeline.recv: TimeoutError when nothing comes, ClosedError once closed', async () => {
    await using ctx = await startBroker();
    const pipeline = await MajordomoPipeline.start({ broker: ctx.endpoint, timeoutMs: 50 });
    await expect(pipeline.recv()).rejects.toBeInstanceOf(TimeoutError);
    const waiting = pipeline.recv({ timeoutMs: Number.POSITIVE_INFINITY });
    await pipeline.close();
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect(pipeline.recv()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });
});
