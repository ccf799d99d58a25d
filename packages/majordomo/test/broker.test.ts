/**
 * The broker with raw MDP peers on real sockets: dispatch, LRU spread, queueing, TTL, heartbeats,
 * expiry, both protocol versions, the queue bound and graceful close.
 *
 *   RawClient ──["", MDPC01, svc, body]──▶ Broker ──["", MDPW01, 0x02, client, "", body]──▶ RawWorker
 *   RawClient ◀─["", MDPC01, svc, body]─── Broker ◀─["", MDPW01, 0x03, client, "", body]── RawWorker
 */
import { eventually } from '@zpatterns/testkit';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Broker } from '../src/index.js';
import { b, RawClient, RawWorker, startBroker, strings } from './broker-peers.js';

const hexes = (frames: readonly Buffer[]): string[] => frames.map((f) => f.toString('hex'));

describe('Broker: dispatch', () => {
  it('routes a request to the worker and the reply back, byte for byte (MDP/0.1)', async () => {
    await using ctx = await startBroker();
    await using worker = await RawWorker.ready(ctx.endpoint, 'echo');
    await eventually(() => ctx.broker.gauges().idleWorkers === 1);
    await using client = new RawClient(ctx.endpoint);
    await client.send('echo', ['Hello', Buffer.from([0, 1, 2])]);

    const raw = await worker.peer.receive();
    expect(raw).toHaveLength(7);
    const [empty, header, command, clientId, delimiter, ...body] = raw;
    expect(hexes([empty, header, command] as Buffer[])).toEqual(['', hexes([b('MDPW01')])[0], '02']);
    expect(clientId?.length).toBeGreaterThan(0);
    expect(delimiter?.length).toBe(0);
    expect(hexes(body)).toEqual([b('Hello').toString('hex'), '000102']);

    await worker.peer.send([b(''), b('MDPW01'), Buffer.from([3]), clientId as Buffer, b(''), b('World'), b('!')]);
    const reply = await client.peer.receive();
    expect(strings(reply)).toEqual(['', 'MDPC01', 'echo', 'World', '!']);
    expect(ctx.broker.stats).toMatchObject({ requests: 1, dispatched: 1, replies: 1, malformed: 0 });
  });

  it('accepts REQ clients (no empty frame from the application, REQ adds it)', async () => {
    await using ctx = await startBroker();
    await using worker = await RawWorker.ready(ctx.endpoint, 'echo');
    const { rawRequest } = await import('@zpatterns/testkit');
    await using req = rawRequest(ctx.endpoint);
    await req.send([b('MDPC01'), b('echo'), b('ping')]);
    await worker.echoOnce();
    expect(strings(await req.receive())).toEqual(['MDPC01', 'echo', 'ping']);
  });

  it('spreads requests over workers, longest idle first (LRU)', async () => {
    await using ctx = await startBroker({ heartbeatIntervalMs: 1000 });
    const workers: RawWorker[] = [];
    for (let i = 0; i < 3; i++) {
      workers.push(await RawWorker.ready(ctx.endpoint, 'echo'));
      await eventually(() => ctx.broker.gauges().idleWorkers === i + 1); // registration order 0, 1, 2
    }
    const order: number[] = [];
    let done = false;
    const loops = workers.map(async (w, index) => {
      while (!done) {
        const request = await w.request(100).catch(() => undefined);
        if (request === undefined) continue;
        order.push(index);
        await w.send({ type: 'reply', client: request.client, body: request.body, final: true });
      }
    });
    try {
      await using client = new RawClient(ctx.endpoint);
      for (let i = 0; i < 9; i++) expect(await client.call('echo', [String(i)])).toEqual([String(i)]);
      expect(order).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2]);
    } finally {
      done = true;
      await Promise.all(loops);
      await Promise.all(workers.map((w) => w.close()));
    }
  });

  it('queues a request until a worker for the service arrives', async () => {
    await using ctx = await startBroker();
    await using client = new RawClient(ctx.endpoint);
    await client.send('late', ['early bird']);
    await eventually(() => ctx.broker.gauges().queuedRequests === 1);
    await using worker = await RawWorker.ready(ctx.endpoint, 'late');
    expect(strings(await worker.echoOnce())).toEqual(['early bird']);
    expect(strings((await client.receive()).body)).toEqual(['early bird']);
  });

  it('multi-frame bodies (including empty frames) pass through unchanged', async () => {
    await using ctx = await startBroker();
    await using worker = await RawWorker.ready(ctx.endpoint, 'echo');
    await using client = new RawClient(ctx.endpoint);
    const body = [b('a'), b(''), Buffer.alloc(100_000, 7), b('z')];
    const replied = client.call('echo', body);
    const echoed = await worker.echoOnce();
    expect(echoed).toEqual(body);
    expect(await replied).toEqual(strings(body));
  });
});

describe('Broker: request TTL and queue bound', () => {
  it('drops a queued request after requestTtlMs; the service is then forgotten', async () => {
    await using ctx = await startBroker({ heartbeatIntervalMs: 50, requestTtlMs: 100 });
    await using client = new RawClient(ctx.endpoint);
    await client.send('nobody', ['hello?']);
    await eventually(() => ctx.broker.stats.expiredRequests === 1);
    expect(ctx.broker.gauges()).toMatchObject({ queuedRequests: 0, services: 0 });
    await using worker = await RawWorker.ready(ctx.endpoint, 'nobody');
    await eventually(() => ctx.broker.gauges().idleWorkers === 1);
    const command = await worker.next(500);
    expect(command.type).toBe('heartbeat'); // not the expired request
  });

  it('logs request expiry once per tick, not once per service', async () => {
    const lines: { msg?: string; expired?: number; serviceCount?: number }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as never) });
    await using ctx = await startBroker({ heartbeatIntervalMs: 300, requestTtlMs: 100, logger });
    await using client = new RawClient(ctx.endpoint);
    for (let i = 0; i < 50; i++) await client.send(`svc-${i}`, ['x']);
    await eventually(() => ctx.broker.gauges().queuedRequests === 50);
    await eventually(() => ctx.broker.stats.expiredRequests === 50);
    const expiryLines = lines.filter((l) => l.msg === 'queued requests expired before a worker took them');
    expect(expiryLines.length).toBeLessThanOrEqual(2);
    expect(expiryLines.reduce((n, l) => n + (l.serviceCount ?? 0), 0)).toBe(50);
  });

  it('refuses new requests past maxQueuedBytes and keeps the accepted ones', async () => {
    // Each request here costs about 120 bytes (frames + overhead): two fit in 250, the third not.
    await using ctx = await startBroker({ maxQueuedBytes: 250 });
    await using client = new RawClient(ctx.endpoint);
    for (const text of ['one', 'two', 'six']) await client.send('q', [text]);
    await eventually(() => ctx.broker.stats.refused === 1);
    expect(ctx.broker.stats.droppedRequests).toBe(0);
    expect(ctx.broker.gauges().queuedRequests).toBe(2);
    await using worker = await RawWorker.ready(ctx.endpoint, 'q');
    expect(strings(await worker.echoOnce())).toEqual(['one']);
    expect(strings(await worker.echoOnce())).toEqual(['two']);
    expect(ctx.broker.gauges().queuedBytes).toBe(0);
  });
});

describe('Broker: heartbeats and expiry', () => {
  it('heartbeats idle and busy workers alike', async () => {
    await using ctx = await startBroker({ heartbeatIntervalMs: 50, liveness: 100 });
    await using idle = await RawWorker.ready(ctx.endpoint, 'a');
    await using busy = await RawWorker.ready(ctx.endpoint, 'b');
    await using client = new RawClient(ctx.endpoint);
    await client.send('b', ['hold this']);
    await busy.request();
    // The busy worker keeps receiving HEARTBEATs while it holds the request.
    expect((await busy.next(500)).type).toBe('heartbeat');
    expect((await busy.next(500)).type).toBe('heartbeat');
    expect((await idle.next(500)).type).toBe('heartbeat');
    expect(ctx.broker.stats.heartbeatsSent).toBeGreaterThanOrEqual(4);
  });

  it('expires a silent idle worker (and tells it DISCONNECT)', async () => {
    await using ctx = await startBroker({ heartbeatIntervalMs: 50, liveness: 2 });
    await using worker = await RawWorker.ready(ctx.endpoint, 'quiet');
    await eventually(() => ctx.broker.gauges().workers === 1);
    await eventually(() => ctx.broker.stats.expiredWorkers === 1);
    expect(ctx.broker.gauges()).toMatchObject({ workers: 0, services: 0 });
    await worker.expectDisconnect();
  });

  it('keeps a worker that heartbeats', async () => {
    await using ctx = await startBroker({ heartbeatIntervalMs: 50, liveness: 4 });
    await using worker = await RawWorker.ready(ctx.endpoint, 'alive');
    for (let i = 0; i < 8; i++) {
      await worker.next(500);
      await worker.send({ type: 'heartbeat' });
    }
    expect(ctx.broker.stats.expiredWorkers).toBe(0);
    expect(ctx.broker.gauges().workers).toBe(1);
  });

  it('removes a worker at once when a send to it fails with EHOSTUNREACH (socket closed)', async () => {
    await using ctx = await startBroker({ heartbeatIntervalMs: 50, liveness: 1000 });
    const worker = await RawWorker.ready(ctx.endpoint, 'gone');
    await eventually(() => ctx.broker.gauges().workers === 1);
    await worker.close();
    await eventually(() => ctx.broker.stats.unreachableWorkers === 1);
    expect(ctx.broker.gauges()).toMatchObject({ workers: 0, services: 0 });
    expect(ctx.broker.stats.expiredWorkers).toBe(0);
  });

  it('expires a silent busy worker: an idempotent request goes to another worker', async () => {
    await using ctx = await startBroker({ heartbeatIntervalMs: 50, liveness: 6, idempotentServices: ['idem'] });
    await using dying = await RawWorker.ready(ctx.endpoint, 'idem');
    await eventually(() => ctx.broker.gauges().idleWorkers === 1);
    await using client = new RawClient(ctx.endpoint);
    await client.send('idem', ['again']);
    await dying.request();
    await dying.close(); // dies holding the request
    await using rescuer = await RawWorker.ready(ctx.endpoint, 'idem');
    // The rescuer heartbeats so that only the dead one expires.
    const beating = setInterval(() => void rescuer.send({ type: 'heartbeat' }).catch(() => undefined), 25);
    try {
      const { client: clientId, body } = await rescuer.request(2000);
      expect(strings(body)).toEqual(['again']);
      await rescuer.send({ type: 'reply', client: clientId, body, final: true });
      expect(strings((await client.receive()).body)).toEqual(['again']);
    } finally {
      clearInterval(beating);
    }
    expect(ctx.broker.stats.requeued).toBe(1);
    expect(ctx.broker.stats.expiredWorkers + ctx.broker.stats.unreachableWorkers).toBeGreaterThanOrEqual(1);
  });

  it('expires a silent busy worker: a non-idempotent request is dropped and counted', async () => {
    await using ctx = await startBroker({ heartbeatIntervalMs: 50, liveness: 2 });
    await using worker = await RawWorker.ready(ctx.endpoint, 'once');
    await using client = new RawClient(ctx.endpoint);
    await client.send('once', ['maybe']);
    await worker.request();
    // Alive but silent (a hung handler): expired while busy, told DISCONNECT.
    await worker.expectDisconnect();
    expect(ctx.broker.stats).toMatchObject({ expiredWorkers: 1, lostInFlight: 1, droppedRequests: 1, requeued: 0 });
    await client.peer.expectNothing(150);
  });
});

describe('Broker: MDP/0.1 and MDP/0.2 on one ROUTER', () => {
  it('a 0.2 client is served by a 0.1 worker and gets a FINAL', async () => {
    await using ctx = await startBroker();
    await using worker = await RawWorker.ready(ctx.endpoint, 'echo', '0.1');
    await using client = new RawClient(ctx.endpoint, '0.2');
    await client.send('echo', ['v2']);
    await worker.echoOnce();
    const raw = await client.peer.receive();
    expect(hexes(raw)).toEqual(hexes([b('MDPC02'), Buffer.from([3]), b('echo'), b('v2')]));
  });

  it('a 0.2 worker streams PARTIALs to a 0.2 client, then the FINAL', async () => {
    await using ctx = await startBroker();
    await using worker = await RawWorker.ready(ctx.endpoint, 'stream', '0.2');
    await using client = new RawClient(ctx.endpoint, '0.2');
    await client.send('stream', ['go']);
    const { client: clientId } = await worker.request();
    await worker.reply(clientId, ['1'], false);
    await worker.reply(clientId, ['2'], false);
    await worker.reply(clientId, ['done'], true);
    const got = [await client.receive(), await client.receive(), await client.receive()];
    expect(got.map((r) => [r.final, ...strings(r.body)])).toEqual([
      [false, '1'],
      [false, '2'],
      [true, 'done'],
    ]);
    expect(ctx.broker.stats.partials).toBe(2);
  });

  it('a 0.1 client of a 0.2 worker gets only the FINAL as its REPLY', async () => {
    await using ctx = await startBroker();
    await using worker = await RawWorker.ready(ctx.endpoint, 'stream', '0.2');
    await using client = new RawClient(ctx.endpoint, '0.1');
    await client.send('stream', ['go']);
    const raw = await worker.peer.receive();
    expect(hexes(raw.slice(0, 2))).toEqual(hexes([b('MDPW02'), Buffer.from([2])]));
    const clientId = raw[2] as Buffer;
    await worker.reply(clientId, ['partial'], false);
    await worker.reply(clientId, ['final'], true);
    expect(strings(await client.peer.receive())).toEqual(['', 'MDPC01', 'stream', 'final']);
    await client.peer.expectNothing(100);
    expect(ctx.broker.stats.partialsDropped).toBe(1);
  });
});

describe('Broker: lifecycle', () => {
  it('close() sends DISCONNECT to every worker and is idempotent', async () => {
    const ctx = await startBroker();
    await using a = await RawWorker.ready(ctx.endpoint, 'a', '0.1');
    await using c = await RawWorker.ready(ctx.endpoint, 'c', '0.2');
    await eventually(() => ctx.broker.gauges().workers === 2);
    await Promise.all([ctx.broker.close(), ctx.broker.close()]);
    await a.expectDisconnect();
    await c.expectDisconnect();
    expect(ctx.broker.lifecycle).toBe('closed');
    await expect(ctx.broker.bind('tcp://127.0.0.1:*')).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('binds several endpoints and serves on all of them', async () => {
    await using ctx = await startBroker();
    const second = await ctx.broker.bind('tcp://127.0.0.1:*');
    expect(ctx.broker.endpoints.clients).toEqual([ctx.endpoint, second]);
    await using worker = await RawWorker.ready(ctx.endpoint, 'echo');
    await using client = new RawClient(second);
    const reply = client.call('echo', ['via second']);
    await worker.echoOnce();
    expect(await reply).toEqual(['via second']);
  });

  it('a bad endpoint rejects with BrokerBindError', async () => {
    await using ctx = await startBroker();
    await expect(ctx.broker.bind('tcp://256.0.0.1:1')).rejects.toMatchObject({ code: 'ERR_BIND' });
  });

  it('rejects bad options with a message naming the option', () => {
    const bind = 'tcp://127.0.0.1:*';
    expect(() => new Broker({ bind, heartbeatIntervalMs: 0 })).toThrow(/heartbeatIntervalMs/);
    expect(() => new Broker({ bind, requestTtlMs: -1 })).toThrow(/requestTtlMs/);
    expect(() => new Broker({ bind: [] })).toThrow(/bind/);
    expect(() => new Broker({ bind, workerBind: [''] })).toThrow(/workerBind/);
  });
});
