/**
 * Every case in which 7/MDP and 8/MMI make the broker answer DISCONNECT, plus malformed input from
 * workers and clients (logged, counted, dropped; a known worker sending garbage is disconnected).
 *
 *   worker ──(unexpected command)──▶ broker ──["", MDPW01, 0x05]──▶ worker   (then forgotten)
 */
import { eventually, rawDealer } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';
import type { WorkerCommand } from '../src/protocol.js';
import { b, RawClient, RawWorker, startBroker, strings } from './broker-peers.js';

const DISCONNECT_01 = ['', 'MDPW01', '\x05'];
const DISCONNECT_02 = ['MDPW02', '\x06'];

describe('Broker: DISCONNECT for every protocol violation', () => {
  it('READY from a worker that is already registered', async () => {
    await using ctx = await startBroker();
    await using worker = await RawWorker.ready(ctx.endpoint, 'echo');
    await eventually(() => ctx.broker.gauges().workers === 1);
    await worker.send({ type: 'ready', service: b('echo') });
    expect(strings(await worker.peer.receiveMatching((m) => m[2]?.[0] !== 0x04))).toEqual(DISCONNECT_01);
    expect(ctx.broker.gauges().workers).toBe(0);
    expect(ctx.broker.stats).toMatchObject({ protocolErrors: 1, disconnectsSent: 1 });
  });

  it.each<[string, WorkerCommand]>([
    ['REPLY', { type: 'reply', client: b('C'), body: [b('x')], final: true }],
    ['HEARTBEAT', { type: 'heartbeat' }],
    ['REQUEST', { type: 'request', client: b('C'), body: [b('x')] }],
  ])('%s from an unknown worker', async (_name, command) => {
    await using ctx = await startBroker();
    await using worker = new RawWorker(ctx.endpoint);
    await worker.send(command);
    expect(strings(await worker.peer.receive())).toEqual(DISCONNECT_01);
    expect(ctx.broker.gauges().workers).toBe(0);
  });

  it('the same in MDP/0.2: HEARTBEAT from an unknown worker gets a 0.2 DISCONNECT', async () => {
    await using ctx = await startBroker();
    await using worker = new RawWorker(ctx.endpoint, '0.2');
    await worker.send({ type: 'heartbeat' });
    expect(strings(await worker.peer.receive())).toEqual(DISCONNECT_02);
  });

  it('READY for an mmi.* service (the SERVICE frame is checked, not the identity)', async () => {
    await using ctx = await startBroker();
    await using worker = new RawWorker(ctx.endpoint);
    await worker.send({ type: 'ready', service: b('mmi.service') });
    expect(strings(await worker.peer.receive())).toEqual(DISCONNECT_01);
    expect(ctx.broker.gauges()).toMatchObject({ workers: 0, services: 0 });
    // ... while a worker whose identity starts with "mmi." may register a normal service.
    const { Dealer } = await import('zeromq');
    const dealer = new Dealer({ linger: 0, routingId: 'mmi.worker' });
    dealer.connect(ctx.endpoint);
    try {
      await dealer.send([b(''), b('MDPW01'), Buffer.from([1]), b('echo')]);
      await eventually(() => ctx.broker.gauges().workers === 1);
    } finally {
      dealer.close();
    }
  });

  it('REPLY from a worker that holds no request', async () => {
    await using ctx = await startBroker();
    await using worker = await RawWorker.ready(ctx.endpoint, 'echo');
    await eventually(() => ctx.broker.gauges().idleWorkers === 1);
    await worker.reply(b('nobody'), ['unasked']);
    await worker.expectDisconnect();
    expect(ctx.broker.gauges().workers).toBe(0);
  });

  it('REPLY addressed to a client other than the one whose request it holds', async () => {
    await using ctx = await startBroker();
    await using worker = await RawWorker.ready(ctx.endpoint, 'echo');
    await using client = new RawClient(ctx.endpoint);
    await client.send('echo', ['mine']);
    await worker.request();
    await worker.reply(b('someone-else'), ['hijack']);
    await worker.expectDisconnect();
    await client.peer.expectNothing(100);
    expect(ctx.broker.stats.lostInFlight).toBe(1);
  });

  it('a worker mixing protocol versions', async () => {
    await using ctx = await startBroker();
    await using worker = await RawWorker.ready(ctx.endpoint, 'echo', '0.1');
    await eventually(() => ctx.broker.gauges().workers === 1);
    await worker.peer.send([b('MDPW02'), Buffer.from([5])]); // a 0.2 HEARTBEAT
    await worker.expectDisconnect();
  });

  it('DISCONNECT from a worker: removed, nothing sent back; an idempotent request is requeued', async () => {
    await using ctx = await startBroker({ idempotentServices: ['idem'] });
    await using leaving = await RawWorker.ready(ctx.endpoint, 'idem');
    await using client = new RawClient(ctx.endpoint);
    await client.send('idem', ['twice is fine']);
    await leaving.request();
    await leaving.send({ type: 'disconnect' });
    await eventually(() => ctx.broker.stats.disconnectsReceived === 1);
    expect(ctx.broker.stats).toMatchObject({ requeued: 1, disconnectsSent: 0 });
    expect(ctx.broker.gauges()).toMatchObject({ workers: 0, queuedRequests: 1 });
    await using next = await RawWorker.ready(ctx.endpoint, 'idem');
    expect(strings(await next.echoOnce())).toEqual(['twice is fine']);
    expect(strings((await client.receive()).body)).toEqual(['twice is fine']);
    const heard = await leaving.peer.receive(150).catch(() => undefined);
    expect(heard === undefined || heard[2]?.[0] === 0x04).toBe(true); // at most a heartbeat sent before
  });

  it('DISCONNECT from a worker holding a non-idempotent request: dropped and counted', async () => {
    await using ctx = await startBroker();
    await using leaving = await RawWorker.ready(ctx.endpoint, 'once');
    await using client = new RawClient(ctx.endpoint);
    await client.send('once', ['at most once']);
    await leaving.request();
    await leaving.send({ type: 'disconnect' });
    await eventually(() => ctx.broker.stats.lostInFlight === 1);
    expect(ctx.broker.gauges()).toMatchObject({ workers: 0, queuedRequests: 0, services: 0 });
  });
});

describe('Broker: malformed input', () => {
  it('garbage from an unknown peer is counted and dropped, and the broker keeps serving', async () => {
    await using ctx = await startBroker();
    await using garbage = rawDealer(ctx.endpoint);
    await garbage.send([b('hello')]);
    await garbage.send([b(''), b('MDPC01')]); // no service
    await garbage.send([b(''), b('MDPC01'), b('')]); // empty service name
    await garbage.send([b(''), b('MDPC01'), b('echo')]); // no body
    await garbage.send([b('MDPC02'), Buffer.from([2]), b('echo'), b('x')]); // a client PARTIAL
    await garbage.send([b(''), b('MDPW01'), Buffer.from([9])]); // unknown command
    await eventually(() => ctx.broker.stats.malformed === 6);
    await garbage.expectNothing(50);
    await using worker = await RawWorker.ready(ctx.endpoint, 'echo');
    await using client = new RawClient(ctx.endpoint);
    const reply = client.call('echo', ['still here']);
    await worker.echoOnce();
    expect(await reply).toEqual(['still here']);
  });

  it('a malformed worker command from a registered worker disconnects it', async () => {
    await using ctx = await startBroker();
    await using worker = await RawWorker.ready(ctx.endpoint, 'echo');
    await eventually(() => ctx.broker.gauges().workers === 1);
    await worker.peer.send([b(''), b('MDPW01'), Buffer.from([4]), b('extra')]); // HEARTBEAT with a frame
    await worker.expectDisconnect();
    expect(ctx.broker.stats.malformed).toBe(1);
  });

  it('oversize messages are dropped (frames and bytes), and an oversize worker is disconnected', async () => {
    // maxMessageBytes bounds the message's sum here; a single frame over it never gets this far
    // (it is also the ROUTER's libzmq frame limit, which drops the connection).
    await using ctx = await startBroker({ maxFramesPerMessage: 8, maxMessageBytes: 1000 });
    await using client = new RawClient(ctx.endpoint);
    await client.send(
      'echo',
      Array.from({ length: 10 }, () => 'x'),
    );
    await client.send('echo', [Buffer.alloc(600), Buffer.alloc(600)]);
    await eventually(() => ctx.broker.stats.oversize === 2);
    await using worker = await RawWorker.ready(ctx.endpoint, 'echo');
    await using second = new RawClient(ctx.endpoint);
    await second.send('echo', ['small']);
    const { client: clientId } = await worker.request();
    await worker.send({ type: 'reply', client: clientId, body: [Buffer.alloc(600), Buffer.alloc(600)], final: true });
    await worker.expectDisconnect();
    expect(ctx.broker.stats).toMatchObject({ oversize: 3, malformed: 3 });
  });
});
