/**
 * The broker facing misbehaving peers, on real sockets with raw MDP peers:
 *
 *   - a REQUEST refused with EHOSTUNREACH (its worker vanished) is requeued for the next worker;
 *   - a worker whose REQUEST failed with EAGAIN (it stopped reading) is not left busy forever;
 *   - garbage from a known worker's connection, even without the worker header, disconnects it;
 *   - one flooding client gets its share of the queue bound, and a polite client still gets in.
 */
import { eventually } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { encodeWorkerCommand } from '../src/codec.js';
import { b, RawClient, RawWorker, startBroker, strings } from './broker-peers.js';

describe('broker against misbehaving peers', () => {
  it('requeues a REQUEST refused with EHOSTUNREACH, whatever the service, for the next worker', async () => {
    await using ctx = await startBroker();
    await using client = new RawClient(ctx.endpoint);
    // The ROUTER must have seen the vanished worker go (then the send fails with EHOSTUNREACH)
    // rather than queue the REQUEST on its dying pipe: retry with a fresh service until it did.
    for (let trial = 0; trial < 20; trial++) {
      const service = `plain-${trial}`;
      const gone = await RawWorker.ready(ctx.endpoint, service);
      await eventually(() => ctx.broker.gauges().idleWorkers === 1);
      await gone.close();
      // a round trip through the broker on another connection, so the disconnect is processed
      await using probe = await RawWorker.ready(ctx.endpoint, `probe-${trial}`);
      await using probeClient = new RawClient(ctx.endpoint);
      await probeClient.send(`probe-${trial}`, ['ping']);
      await probe.echoOnce();
      await probeClient.receive();
      const unreachable = ctx.broker.stats.unreachableWorkers;
      await client.send(service, ['never reached its first worker']);
      await eventually(() => ctx.broker.stats.dispatched > 0 && ctx.broker.gauges().busyWorkers <= 1);
      await eventually(() => ctx.broker.stats.sendFailures > 0 || ctx.broker.gauges().busyWorkers === 1, {
        what: 'the REQUEST sent or refused',
      });
      if (ctx.broker.stats.unreachableWorkers === unreachable) continue; // went down the dying pipe
      await using next = await RawWorker.ready(ctx.endpoint, service);
      expect(strings(await next.echoOnce())).toEqual(['never reached its first worker']);
      expect(strings((await client.receive()).body)).toEqual(['never reached its first worker']);
      expect(ctx.broker.stats).toMatchObject({ requeuedUnsent: 1, lostInFlight: 0 });
      return;
    }
    throw new Error('the REQUEST never met EHOSTUNREACH in 20 trials');
  });

  it('a worker whose REQUEST failed with EAGAIN is not left busy: the request goes to another worker', async () => {
    await using ctx = await startBroker({ sendHighWaterMark: 1 });
    await using client = new RawClient(ctx.endpoint);
    // A worker that stops reading: a bare DEALER with no receive loop.
    const stuck = new zmq.Dealer({ linger: 0, receiveHighWaterMark: 1 });
    try {
      stuck.connect(ctx.endpoint);
      await stuck.send(encodeWorkerCommand('0.1', { type: 'ready', service: b('big') }));
      const body = Buffer.alloc(2 * 1024 * 1024, 0x62);
      for (let i = 0; i < 64; i++) await client.send('big', [String(i), body]);
      // Read the first request only, to learn the client's routing id; then keep "answering"
      // without reading, so the broker keeps handing REQUESTs to a worker whose buffers fill up.
      let first: Buffer[];
      do first = await stuck.receive();
      while (first[2]?.[0] !== 2);
      const clientId = first[3] as Buffer;
      for (let i = 0; i < 63 && ctx.broker.stats.sendFailures === 0; i++) {
        await stuck.send(encodeWorkerCommand('0.1', { type: 'reply', client: clientId, body: [b('ok')], final: true }));
        await eventually(() => ctx.broker.stats.dispatched >= i + 2 || ctx.broker.stats.sendFailures > 0, {
          timeoutMs: 20_000,
        });
      }
      expect(ctx.broker.stats.sendFailures).toBeGreaterThan(0);
      await eventually(() => ctx.broker.stats.requeuedUnsent === 1, { what: 'the unsent REQUEST requeued' });
      expect(ctx.broker.gauges().workers).toBe(0); // the stuck worker was removed, not left busy
      await using good = await RawWorker.ready(ctx.endpoint, 'big');
      const next = await good.request(10_000);
      expect(next.body[1]?.length).toBe(body.length);
    } finally {
      stuck.close();
    }
  });

  it('garbage without the worker header from a registered worker disconnects it', async () => {
    await using ctx = await startBroker();
    await using worker = await RawWorker.ready(ctx.endpoint, 'echo');
    await eventually(() => ctx.broker.gauges().workers === 1);
    await worker.peer.send([b(''), b('not MDP at all'), b('x')]);
    await worker.expectDisconnect();
    expect(ctx.broker.gauges().workers).toBe(0);
    expect(ctx.broker.stats.malformed).toBe(1);
  });

  it('one flooding client gets its share of the queue bound; a polite client still gets in', async () => {
    await using ctx = await startBroker({ maxQueuedBytes: 100_000, maxQueuedBytesPerClient: 25_000 });
    await using flood = new RawClient(ctx.endpoint);
    await using polite = new RawClient(ctx.endpoint);
    const kb = Buffer.alloc(1000, 0x66);
    for (let i = 0; i < 200; i++) await flood.send('slow', [kb]);
    await eventually(() => ctx.broker.stats.requests === 200);
    expect(ctx.broker.stats.refusedClientShare).toBeGreaterThan(150);
    for (let i = 0; i < 5; i++) await polite.send('slow', [`polite ${i}`]);
    await eventually(() => ctx.broker.stats.requests === 205);
    expect(ctx.broker.gauges().queuedBytes).toBeLessThanOrEqual(25_000 + 5 * 200);
    await using worker = await RawWorker.ready(ctx.endpoint, 'slow');
    const politeBodies: string[] = [];
    while (politeBodies.length < 5) {
      const body = strings(await worker.echoOnce(10_000));
      if (body[0]?.startsWith('polite')) politeBodies.push(body[0]);
    }
    expect(politeBodies).toEqual(['polite 0', 'polite 1', 'polite 2', 'polite 3', 'polite 4']);
    expect(ctx.broker.stats.refused).toBe(ctx.broker.stats.refusedClientShare);
  });
});
