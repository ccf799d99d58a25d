/**
 * The broker's timing rules with a ManualClock (real sockets, time moved by hand): worker expiry
 * exactly at `heartbeatIntervalMs * liveness` of silence, request TTL, and the dispatch-time check
 * that never hands a request to a worker that expired between two heartbeat ticks.
 *
 *   t=0 READY ... tick(1000) tick(2000) tick(3000): silent for 3000 ms -> expired
 */
import { ManualClock } from '@zpatterns/core';
import { eventually } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';
import { RawClient, RawWorker, startBroker, strings } from './broker-peers.js';

describe('Broker timing (ManualClock)', () => {
  it('expires a worker at exactly heartbeatIntervalMs x liveness of silence', async () => {
    const clock = new ManualClock();
    await using ctx = await startBroker({ clock, heartbeatIntervalMs: 1000, liveness: 3 });
    await using _worker = await RawWorker.ready(ctx.endpoint, 'svc');
    await eventually(() => ctx.broker.gauges().workers === 1);
    clock.advance(2999);
    expect(ctx.broker.stats.heartbeatsSent).toBe(2);
    expect(ctx.broker.gauges().workers).toBe(1);
    clock.advance(1);
    expect(ctx.broker.stats.expiredWorkers).toBe(1);
    expect(ctx.broker.gauges().workers).toBe(0);
  });

  it('any message from the worker (here a HEARTBEAT) restarts its liveness', async () => {
    const clock = new ManualClock();
    await using ctx = await startBroker({ clock, heartbeatIntervalMs: 1000, liveness: 3 });
    await using worker = await RawWorker.ready(ctx.endpoint, 'svc');
    await eventually(() => ctx.broker.gauges().workers === 1);
    clock.advance(2500);
    await worker.send({ type: 'heartbeat' });
    await eventually(() => ctx.broker.stats.received === 2);
    clock.advance(2999); // t = 5499 < 2500 + 3000
    expect(ctx.broker.gauges().workers).toBe(1);
    clock.advance(501); // tick at 6000 >= 5500
    expect(ctx.broker.stats.expiredWorkers).toBe(1);
  });

  it('drops a queued request once requestTtlMs has passed, at the next tick', async () => {
    const clock = new ManualClock();
    await using ctx = await startBroker({ clock, heartbeatIntervalMs: 1000, requestTtlMs: 2500 });
    await using client = new RawClient(ctx.endpoint);
    await client.send('none', ['x']);
    await eventually(() => ctx.broker.gauges().queuedRequests === 1);
    clock.advance(2999); // ticks at 1000 and 2000: deadline 2500 not yet checked past
    expect(ctx.broker.stats.expiredRequests).toBe(0);
    clock.advance(1);
    expect(ctx.broker.stats.expiredRequests).toBe(1);
    expect(ctx.broker.gauges()).toMatchObject({ queuedRequests: 0, services: 0 });
  });

  it('skips a worker that expired since the last tick when dispatching', async () => {
    const clock = new ManualClock();
    await using ctx = await startBroker({ clock, heartbeatIntervalMs: 1000, liveness: 3 });
    clock.advance(500);
    await using stale = await RawWorker.ready(ctx.endpoint, 'svc'); // expires at 3500
    await eventually(() => ctx.broker.gauges().workers === 1);
    clock.advance(100);
    await using fresh = await RawWorker.ready(ctx.endpoint, 'svc'); // expires at 3600
    await eventually(() => ctx.broker.gauges().workers === 2);
    clock.advance(2950); // t = 3550: the stale one is due, no tick since 3000
    expect(ctx.broker.stats.expiredWorkers).toBe(0);
    await using client = new RawClient(ctx.endpoint);
    await client.send('svc', ['to the live one']);
    expect(strings(await fresh.echoOnce())).toEqual(['to the live one']);
    expect(ctx.broker.stats.expiredWorkers).toBe(1);
    await stale.expectDisconnect();
  });

  it('a request whose only idle worker has expired waits for the next worker', async () => {
    const clock = new ManualClock();
    await using ctx = await startBroker({ clock, heartbeatIntervalMs: 1000, liveness: 3 });
    clock.advance(500);
    await using stale = await RawWorker.ready(ctx.endpoint, 'svc'); // expires at 3500
    await eventually(() => ctx.broker.gauges().workers === 1);
    clock.advance(3050); // t = 3550, no tick since 3000
    await using client = new RawClient(ctx.endpoint);
    await client.send('svc', ['wait for me']);
    await eventually(() => ctx.broker.gauges().queuedRequests === 1);
    expect(ctx.broker.stats.expiredWorkers).toBe(1);
    await using next = await RawWorker.ready(ctx.endpoint, 'svc');
    expect(strings(await next.echoOnce())).toEqual(['wait for me']);
    expect(strings((await client.receive()).body)).toEqual(['wait for me']);
    await stale.expectDisconnect();
  });
});
