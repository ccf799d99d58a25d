/**
 * The broker's service queues on their own: the queued bytes counted overall and per client
 * (each queued request holding its client's share, a share leaving the table at 0 bytes and coming
 * back when its client queues again), the per-client bound, and request expiry.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '@zpatterns/core';
import { WarningLimiter } from '@zpatterns/core/internal';
import type { BrokerContext } from '../src/broker-context.js';
import { createBrokerStats, resolveBrokerOptions } from '../src/broker-options.js';
import { requestBytes, ServiceQueues } from '../src/broker-queues.js';
import { brokerSnapshot } from '../src/broker-snapshot.js';
import { BrokerRequest } from '../src/broker-worker.js';

const silent = {
  isLevelEnabled: () => false,
  info: () => undefined,
  warn: () => undefined,
  debug: () => undefined,
  error: () => undefined,
  child: () => silent,
} as unknown as BrokerContext['log'];

function queues(options: { maxQueuedBytesPerClient?: number; requestTtlMs?: number } = {}) {
  const clock = new ManualClock();
  const resolved = resolveBrokerOptions({ bind: 'tcp://127.0.0.1:5555', clock, ...options });
  const ctx: BrokerContext = {
    options: resolved,
    stats: createBrokerStats(),
    clock,
    log: silent,
    debugLog: undefined,
    warnings: new WarningLimiter(silent, clock, 10),
    workerWarnings: new WarningLimiter(silent, clock, 10),
    overloadWarnings: new WarningLimiter(silent, clock, 1),
    observer: {},
    isOpen: () => true,
    emit: () => undefined,
    toClient: () => undefined,
    toWorker: () => undefined,
  };
  return { ctx, clock, queues: new ServiceQueues(ctx) };
}

/** A request from `client` as the broker makes it, with a fresh copy of the identity (as a ROUTER gives it). */
const request = (client: string, body: string, at = 0): BrokerRequest => {
  const id = Buffer.from(client);
  const frames = [Buffer.from(body)];
  return new BrokerRequest(id, '0.1', frames, at, requestBytes(id, frames), undefined);
};

const clientsOf = (q: ServiceQueues, now = 0) =>
  brokerSnapshot(q.values(), [], now).clients.map((c) => [Buffer.from(c.address, 'hex').toString(), c.queuedBytes]);

describe('ServiceQueues', () => {
  it('counts each client apart, frees a share at 0 bytes and takes it back when its client queues again', () => {
    const { queues: q } = queues();
    const svc = q.require(Buffer.from('echo'));
    const a1 = request('A', 'one');
    const size = a1.bytes;
    q.enqueue(svc, a1);
    q.enqueue(svc, request('A', 'two'));
    q.enqueue(svc, request('B', 'one'));
    q.enqueue(svc, request('A', 'six'));
    expect(q.queuedBytes).toBe(4 * size);
    expect(clientsOf(q)).toEqual([
      ['A', 3 * size],
      ['B', size],
    ]);
    const taken = [q.dequeue(svc), q.dequeue(svc), q.dequeue(svc)];
    expect(taken.map((r) => r?.share)).toEqual([undefined, undefined, undefined]);
    expect(clientsOf(q)).toEqual([['A', size]]);
    expect(q.dequeue(svc)?.client.toString()).toBe('A');
    expect(clientsOf(q)).toEqual([]);
    expect(q.queuedBytes).toBe(0);
    // The same client again (its last share cached, out of the table): back in the table.
    q.enqueue(svc, request('A', 'new'));
    expect(clientsOf(q)).toEqual([['A', size]]);
    // A request taken out and put back (its worker lost) is counted in its client's share again.
    const back = q.dequeue(svc) as BrokerRequest;
    q.enqueue(svc, request('B', 'two'));
    q.requeue(svc, back); // at the head
    expect(clientsOf(q)).toEqual([
      ['A', size],
      ['B', size],
    ]);
    expect(q.queuedBytes).toBe(2 * size);
  });

  it('refuses a client past its share however its share was found, and counts nothing for the refused', () => {
    const size = request('A', 'x').bytes;
    const { ctx, queues: q } = queues({ maxQueuedBytesPerClient: 2 * size });
    const svc = q.require(Buffer.from('echo'));
    for (let round = 0; round < 2; round++) {
      q.enqueue(svc, request('A', 'x'));
      q.enqueue(svc, request('B', 'x'));
      q.enqueue(svc, request('A', 'x'));
      q.enqueue(svc, request('A', 'x')); // refused: A holds its share
      expect(ctx.stats.refusedClientShare).toBe(round + 1);
      expect(clientsOf(q)).toEqual([
        ['A', 2 * size],
        ['B', size],
      ]);
      while (q.dequeue(svc) !== undefined);
      expect(q.queuedBytes).toBe(0);
    }
  });

  it('drops a request once requestTtlMs has passed since it arrived, and its bytes with it', () => {
    const { ctx, queues: q } = queues({ requestTtlMs: 1000 });
    const svc = q.require(Buffer.from('echo'));
    q.enqueue(svc, request('A', 'old', 0.5));
    q.enqueue(svc, request('A', 'new', 600.25));
    q.expire(1000.49);
    expect(ctx.stats.expiredRequests).toBe(0);
    q.expire(1000.5);
    expect(ctx.stats.expiredRequests).toBe(1);
    expect(svc.queue.length).toBe(1);
    q.expire(1600.25);
    expect(ctx.stats.expiredRequests).toBe(2);
    expect(q.queuedBytes).toBe(0);
    expect(clientsOf(q)).toEqual([]);
  });
});
