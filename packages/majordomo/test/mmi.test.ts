/**
 * 8/MMI answered by the broker: `mmi.service` ("200" only with a live worker, else "404"), "501"
 * for any other `mmi.*`, and the extensions `mmi.services` and `mmi.workers` (layouts in
 * codec.ts). Replies are built as the book does: the last body frame replaced by the code.
 */
import { eventually } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';
import { decodeMmiServicesBody } from '../src/protocol.js';
import { b, RawClient, RawWorker, startBroker, strings } from './broker-peers.js';

describe('MMI', () => {
  it('mmi.service: 200 with a live worker, 404 without, and the reply frames of the book', async () => {
    await using ctx = await startBroker({ heartbeatIntervalMs: 100, liveness: 3 });
    await using client = new RawClient(ctx.endpoint);
    expect(await client.call('mmi.service', ['echo'])).toEqual(['404']);
    await using _worker = await RawWorker.ready(ctx.endpoint, 'echo');
    await eventually(() => ctx.broker.gauges().workers === 1);
    await client.send('mmi.service', ['echo']);
    expect(strings(await client.peer.receive())).toEqual(['', 'MDPC01', 'mmi.service', '200']);
    // The worker goes silent and expires: the service is no longer "present" (the book's leak).
    await eventually(() => ctx.broker.stats.expiredWorkers === 1);
    expect(await client.call('mmi.service', ['echo'])).toEqual(['404']);
    expect(ctx.broker.stats.mmi).toBe(3);
  });

  it('a service with queued requests but no worker is 404', async () => {
    await using ctx = await startBroker();
    await using client = new RawClient(ctx.endpoint);
    await client.send('pending', ['x']);
    await eventually(() => ctx.broker.gauges().queuedRequests === 1);
    await using asker = new RawClient(ctx.endpoint);
    expect(await asker.call('mmi.service', ['pending'])).toEqual(['404']);
  });

  it('keeps the other body frames and replaces only the last one', async () => {
    await using ctx = await startBroker();
    await using client = new RawClient(ctx.endpoint);
    expect(await client.call('mmi.service', ['tag', 'echo'])).toEqual(['tag', '404']);
  });

  it('501 for an unknown mmi.* service, in MDP/0.2 too', async () => {
    await using ctx = await startBroker();
    await using client = new RawClient(ctx.endpoint);
    expect(await client.call('mmi.nonsense', ['anything'])).toEqual(['501']);
    await using v2 = new RawClient(ctx.endpoint, '0.2');
    await v2.send('mmi.nonsense', ['anything']);
    expect(strings(await v2.peer.receive())).toEqual(['MDPC02', '\x03', 'mmi.nonsense', '501']);
  });

  it('mmi.* requests are never queued as services', async () => {
    await using ctx = await startBroker();
    await using client = new RawClient(ctx.endpoint);
    await client.call('mmi.service', ['x']);
    await client.call('mmi.other', ['x']);
    expect(ctx.broker.gauges()).toMatchObject({ services: 0, queuedRequests: 0 });
  });

  it('extension mmi.services: ["200", name, workers, ...] sorted by name', async () => {
    await using ctx = await startBroker();
    await using client = new RawClient(ctx.endpoint);
    expect(await client.call('mmi.services', [''])).toEqual(['200']);
    await using _w1 = await RawWorker.ready(ctx.endpoint, 'zeta');
    await using _w2 = await RawWorker.ready(ctx.endpoint, 'alpha');
    await using _w3 = await RawWorker.ready(ctx.endpoint, 'alpha');
    await eventually(() => ctx.broker.gauges().workers === 3);
    const body = await client.call('mmi.services', ['']);
    expect(body).toEqual(['200', 'alpha', '2', 'zeta', '1']);
    expect(decodeMmiServicesBody(body.map(b))).toEqual([
      { name: b('alpha'), workers: 2 },
      { name: b('zeta'), workers: 1 },
    ]);
  });

  it('extension mmi.workers: the live worker count of one service', async () => {
    await using ctx = await startBroker();
    await using client = new RawClient(ctx.endpoint);
    expect(await client.call('mmi.workers', ['echo'])).toEqual(['0']);
    await using _w1 = await RawWorker.ready(ctx.endpoint, 'echo');
    await using _w2 = await RawWorker.ready(ctx.endpoint, 'echo');
    await eventually(() => ctx.broker.gauges().workers === 2);
    expect(await client.call('mmi.workers', ['echo'])).toEqual(['2']);
  });
});
