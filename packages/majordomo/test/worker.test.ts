/**
 * MajordomoWorker against raw ROUTERs playing the broker (frames asserted byte for byte) and
 * against the real in-process Broker.
 *
 *   raw ROUTER (test)                      worker DEALER
 *        <---- [id, "", MDPW01, 0x01, service]          READY
 *        ----> [id, "", MDPW01, 0x02, client, "", body]  REQUEST
 *        <---- [id, "", MDPW01, 0x04]                    HEARTBEAT (also while busy)
 *        <---- [id, "", MDPW01, 0x03, client, "", reply] REPLY
 *        ----> [id, "", MDPW01, 0x05]                    DISCONNECT => new socket, new id, READY
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GaveUpError, sleep, type Message } from '@zpatterns/core';
import { EMPTY } from '@zpatterns/core/internal';
import { eventually, ipcEndpoint, rawRouter } from '@zpatterns/testkit';
import { Broker, MajordomoClient, MajordomoWorker, MdpVersionError } from '@zpatterns/majordomo';
import { MDPW01, MDPW02 } from '@zpatterns/majordomo/protocol';

const disposables: AsyncDisposable[] = [];
function track<T extends AsyncDisposable>(resource: T): T {
  disposables.push(resource);
  return resource;
}
afterEach(async () => {
  for (const d of disposables.splice(0).reverse()) await d[Symbol.asyncDispose]();
});

const hex = (frames: readonly Buffer[]): string[] => frames.map((f) => f.toString('hex'));
const b = (s: string): Buffer => Buffer.from(s);
const byte = (n: number): Buffer => Buffer.from([n]);
const READY_01 = (service: string): string[] => hex([EMPTY, MDPW01, byte(1), b(service)]);
const HEARTBEAT_01 = hex([EMPTY, MDPW01, byte(4)]);
const DISCONNECT_01 = hex([EMPTY, MDPW01, byte(5)]);
const isCommand = (command: number) => (m: Message) => m[3]?.length === 1 && m[3][0] === command;

/** Split a ROUTER message into identity and the rest, hex-encoded. */
function split(message: Message): { id: Buffer; frames: string[] } {
  const [id, ...rest] = message;
  return { id: id as Buffer, frames: hex(rest) };
}

describe('MajordomoWorker wire behaviour (raw ROUTER as the broker)', () => {
  it('sends READY, answers a REQUEST with a byte-exact REPLY, and heartbeats while the handler runs', async () => {
    const router = track(await rawRouter());
    const worker = track(
      new MajordomoWorker({
        broker: router.endpoint,
        service: 'echo',
        heartbeatIntervalMs: 50,
        liveness: 100,
        handler: async (request) => {
          await sleep(300);
          return [b('re:'), ...request];
        },
      }),
    );
    await worker.start();
    const ready = split(await router.receive(2000));
    expect(ready.frames).toEqual(READY_01('echo'));
    const client = Buffer.from([0, 1, 2, 3, 4]);
    await router.send([ready.id, EMPTY, MDPW01, byte(2), client, EMPTY, b('A'), b('B')]);
    let heartbeats = 0;
    for (;;) {
      const message = split(await router.receive(2000));
      expect(message.id.equals(ready.id)).toBe(true);
      if (message.frames.join() === HEARTBEAT_01.join()) {
        heartbeats++;
        continue;
      }
      expect(message.frames).toEqual(hex([EMPTY, MDPW01, byte(3), client, EMPTY, b('re:'), b('A'), b('B')]));
      break;
    }
    // 300 ms of handler at a 50 ms interval: heartbeats kept flowing while busy.
    expect(heartbeats).toBeGreaterThanOrEqual(3);
    expect(worker.stats).toMatchObject({ requests: 1, replies: 1 });
  });

  it('on DISCONNECT closes its socket and sends READY again from a new socket (new identity)', async () => {
    const router = track(await rawRouter());
    const worker = track(
      new MajordomoWorker({
        broker: router.endpoint,
        service: 'svc',
        heartbeatIntervalMs: 1000,
        handler: (request) => request,
      }),
    );
    const status = worker.status();
    await worker.start();
    const first = split(await router.receiveMatching(isCommand(1), 2000));
    expect(first.frames).toEqual(READY_01('svc'));
    await router.send([first.id, EMPTY, MDPW01, byte(5)]);
    const second = split(await router.receiveMatching(isCommand(1), 2000));
    expect(second.frames).toEqual(READY_01('svc'));
    expect(second.id.equals(first.id)).toBe(false);
    expect(worker.stats.disconnectsReceived).toBe(1);
    expect(worker.stats.sessions).toBe(2);
    const events: string[] = [];
    for await (const event of status) {
      events.push(event.type);
      if (event.type === 'disconnected') expect(event).toMatchObject({ reason: 'disconnect', session: 1 });
      if (events.length === 4) break;
    }
    expect(events).toEqual(['started', 'connected', 'disconnected', 'reconnecting']);
  });

  it('detects a silent broker after liveness x interval and reconnects with growing backoff', async () => {
    const router = track(await rawRouter());
    const attempts: number[] = [];
    const worker = track(
      new MajordomoWorker({
        broker: router.endpoint,
        service: 'svc',
        heartbeatIntervalMs: 40,
        liveness: 3,
        reconnectDelay: (attempt) => {
          attempts.push(attempt);
          return 30 * attempt;
        },
        handler: (request) => request,
      }),
    );
    await worker.start();
    const readies: { id: Buffer; at: number }[] = [];
    const heartbeats: string[][] = [];
    while (readies.length < 4) {
      const message = split(await router.receive(3000));
      if (message.frames.join() === HEARTBEAT_01.join()) heartbeats.push(message.frames);
      else {
        expect(message.frames).toEqual(READY_01('svc'));
        readies.push({ id: message.id, at: performance.now() });
      }
    }
    // Never heard from the broker, so attempts keep growing: 1, 2, 3 (no reset).
    expect(attempts.slice(0, 3)).toEqual([1, 2, 3]);
    expect(new Set(readies.map((r) => r.id.toString('hex'))).size).toBe(4);
    expect(heartbeats.length).toBeGreaterThan(0);
    // Each session lasts ~120 ms (3 x 40) plus the backoff (30, 60, 90 ms).
    const gaps = readies.slice(1).map((r, i) => r.at - (readies[i] as { at: number }).at);
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(120 + 30 * (i + 1) - 15));
    expect(worker.stats.brokerExpiries).toBeGreaterThanOrEqual(3);
  });

  it('resets the backoff after a session in which the broker was heard', async () => {
    const router = track(await rawRouter());
    const attempts: number[] = [];
    const worker = track(
      new MajordomoWorker({
        broker: router.endpoint,
        service: 'svc',
        heartbeatIntervalMs: 40,
        liveness: 5,
        reconnectDelay: (attempt) => {
          attempts.push(attempt);
          return 10;
        },
        handler: (request) => request,
      }),
    );
    await worker.start();
    await router.receiveMatching(isCommand(1)); // session 1: never heard -> attempt 1
    await router.receiveMatching(isCommand(1)); // session 2: never heard -> attempt 2
    const third = split(await router.receiveMatching(isCommand(1)));
    await router.send([third.id, EMPTY, MDPW01, byte(4)]); // session 3: heard once -> attempts restart
    await router.receiveMatching(isCommand(1)); // session 4
    expect(attempts.slice(0, 3)).toEqual([1, 2, 1]);
    expect(worker.stats.sessions).toBeGreaterThanOrEqual(4);
  });

  it('gives up when the reconnect policy returns null: closed() resolves with GaveUpError', async () => {
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
    expect(await worker.closed()).toBeInstanceOf(GaveUpError);
    expect(worker.state).toBe('closed');
  });

  it('survives a throwing handler: by default it sends DISCONNECT and registers again on a new socket', async () => {
    const router = track(await rawRouter());
    const worker = track(
      new MajordomoWorker({
        broker: router.endpoint,
        service: 'svc',
        heartbeatIntervalMs: 1000,
        handler: (request) => {
          calls++;
          if (calls === 1) throw new Error('boom');
          return request;
        },
      }),
    );
    let calls = 0;
    await worker.start();
    const first = split(await router.receiveMatching(isCommand(1)));
    const client = b('C1');
    await router.send([first.id, EMPTY, MDPW01, byte(2), client, EMPTY, b('x')]);
    const disconnect = split(await router.receiveMatching((m) => !isCommand(4)(m)));
    expect(disconnect.id.equals(first.id)).toBe(true);
    expect(disconnect.frames).toEqual(DISCONNECT_01);
    const second = split(await router.receiveMatching(isCommand(1)));
    expect(second.id.equals(first.id)).toBe(false);
    await router.send([second.id, EMPTY, MDPW01, byte(2), client, EMPTY, b('y')]);
    const reply = split(await router.receiveMatching(isCommand(3)));
    expect(reply.frames).toEqual(hex([EMPTY, MDPW01, byte(3), client, EMPTY, b('y')]));
    expect(worker.stats.handlerErrors).toBe(1);
  });

  it('with errorReply, answers a failed request with the application-defined error body', async () => {
    const router = track(await rawRouter());
    const worker = track(
      new MajordomoWorker({
        broker: router.endpoint,
        service: 'svc',
        errorReply: (err) => [b('error'), b(err.message)],
        handler: async () => {
          throw new Error('no such thing');
        },
      }),
    );
    await worker.start();
    const ready = split(await router.receiveMatching(isCommand(1)));
    await router.send([ready.id, EMPTY, MDPW01, byte(2), b('C'), EMPTY, b('x')]);
    const reply = split(await router.receiveMatching(isCommand(3)));
    expect(reply.frames).toEqual(hex([EMPTY, MDPW01, byte(3), b('C'), EMPTY, b('error'), b('no such thing')]));
    expect(worker.state).toBe('ready');
  });

  it('drains on close(): finishes the request in hand, sends its REPLY, then DISCONNECT', async () => {
    const router = track(await rawRouter());
    const worker = new MajordomoWorker({
      broker: router.endpoint,
      service: 'svc',
      handler: async (request) => {
        await new Promise<void>((resolve) => (release = resolve));
        return request;
      },
    });
    let release: () => void = () => undefined;
    await worker.start();
    const served = worker.closed();
    const ready = split(await router.receiveMatching(isCommand(1)));
    await router.send([ready.id, EMPTY, MDPW01, byte(2), b('C'), EMPTY, b('last')]);
    await eventually(() => worker.state === 'busy');
    const closing = worker.close();
    expect(worker.lifecycle).toBe('closing');
    await sleep(50);
    release();
    await closing;
    await served;
    const reply = split(await router.receiveMatching((m) => !isCommand(4)(m)));
    expect(reply.frames).toEqual(hex([EMPTY, MDPW01, byte(3), b('C'), EMPTY, b('last')]));
    const bye = split(await router.receiveMatching((m) => !isCommand(4)(m)));
    expect(bye.frames).toEqual(DISCONNECT_01);
    expect(worker.state).toBe('closed');
    await worker.close();
  });

  it('ctx.signal aborts when close() runs out of drainTimeoutMs, also when first read after the abort', async () => {
    const router = track(await rawRouter());
    const worker = new MajordomoWorker({
      broker: router.endpoint,
      service: 'svc',
      drainTimeoutMs: 50,
      handler: async (request, ctx) => {
        const early = request[0]?.toString() === 'early';
        // A copy of the context keeps its signal (the same one).
        if (early) expect({ ...ctx }.signal).toBe(ctx.signal);
        if (early) ctx.signal.addEventListener('abort', () => release());
        await new Promise<void>((resolve) => (release = resolve));
        // The late reader touches the signal for the first time only now, after the abort.
        seen.push({ early, reason: ctx.signal.aborted ? (ctx.signal.reason as unknown) : undefined });
        return request;
      },
    });
    const seen: { early: boolean; reason: unknown }[] = [];
    let release: () => void = () => undefined;
    await worker.start();
    const ready = split(await router.receiveMatching(isCommand(1)));
    await router.send([ready.id, EMPTY, MDPW01, byte(2), b('C'), EMPTY, b('early')]);
    await eventually(() => worker.state === 'busy');
    await worker.close();
    expect(seen).toHaveLength(1);
    expect(seen[0]?.early).toBe(true);
    expect(seen[0]?.reason).toBeInstanceOf(Error);

    const router2 = track(await rawRouter());
    const late = new MajordomoWorker({
      broker: router2.endpoint,
      service: 'svc',
      drainTimeoutMs: 50,
      handler: async (request, ctx) => {
        reachedHandler = true;
        await new Promise<void>((resolve) => (release = resolve));
        lateSeen.push(ctx.signal.aborted ? ctx.signal.reason : 'not aborted');
        return request;
      },
    });
    let reachedHandler = false;
    const lateSeen: unknown[] = [];
    await late.start();
    const ready2 = split(await router2.receiveMatching(isCommand(1)));
    await router2.send([ready2.id, EMPTY, MDPW01, byte(2), b('C'), EMPTY, b('late')]);
    await eventually(() => reachedHandler);
    await late.close();
    release();
    await eventually(() => lateSeen.length === 1);
    expect(lateSeen[0]).toBeInstanceOf(Error);
    expect((lateSeen[0] as Error).name).toBe('ClosedError');
  });

  it('a synchronous handler is answered, request after request', async () => {
    const router = track(await rawRouter());
    const worker = track(
      new MajordomoWorker({ broker: router.endpoint, service: 'svc', handler: (request) => [b('sync'), ...request] }),
    );
    await worker.start();
    const ready = split(await router.receiveMatching(isCommand(1)));
    for (const body of ['one', 'two', 'three']) {
      await router.send([ready.id, EMPTY, MDPW01, byte(2), b('C'), EMPTY, b(body)]);
      const reply = split(await router.receiveMatching(isCommand(3)));
      expect(reply.frames).toEqual(hex([EMPTY, MDPW01, byte(3), b('C'), EMPTY, b('sync'), b(body)]));
    }
    expect(worker.stats.replies).toBe(3);
    expect(worker.state).toBe('ready');
  });

  it('MDP/0.2 frames: READY, PARTIAL, FINAL, HEARTBEAT without the empty delimiter', async () => {
    const router = track(await rawRouter());
    const worker = track(
      new MajordomoWorker({
        broker: router.endpoint,
        service: 'svc',
        version: '0.2',
        heartbeatIntervalMs: 50,
        liveness: 100,
        handler: async (request, ctx) => {
          ctx.partial([b('half')]);
          await sleep(120);
          return request;
        },
      }),
    );
    await worker.start();
    const ready = split(await router.receive(2000));
    expect(ready.frames).toEqual(hex([MDPW02, byte(1), b('svc')]));
    await router.send([ready.id, MDPW02, byte(2), b('C'), EMPTY, b('q')]);
    const seen: string[][] = [];
    for (;;) {
      const message = split(await router.receive(2000));
      seen.push(message.frames);
      if (message.frames[1] === '04') break;
    }
    expect(seen[0]).toEqual(hex([MDPW02, byte(3), b('C'), EMPTY, b('half')]));
    expect(seen).toContainEqual(hex([MDPW02, byte(5)]));
    expect(seen[seen.length - 1]).toEqual(hex([MDPW02, byte(4), b('C'), EMPTY, b('q')]));
  });

  it('MDP/0.1: ctx.partial() throws MdpVersionError', async () => {
    const router = track(await rawRouter());
    const worker = track(
      new MajordomoWorker({
        broker: router.endpoint,
        service: 'svc',
        errorReply: (e) => [e.name],
        handler: (_request, ctx) => {
          ctx.partial(['x']);
          return ['unreachable'];
        },
      }),
    );
    await worker.start();
    const ready = split(await router.receiveMatching(isCommand(1)));
    await router.send([ready.id, EMPTY, MDPW01, byte(2), b('C'), EMPTY, b('q')]);
    const reply = split(await router.receiveMatching(isCommand(3)));
    expect(reply.frames.at(-1)).toBe(b(new MdpVersionError('x').name).toString('hex'));
  });

  it('counts and drops malformed messages and a REQUEST while busy, and keeps serving', async () => {
    const router = track(await rawRouter());
    const worker = track(
      new MajordomoWorker({
        broker: router.endpoint,
        service: 'svc',
        handler: async (request) => {
          await sleep(100);
          return request;
        },
      }),
    );
    await worker.start();
    const ready = split(await router.receiveMatching(isCommand(1)));
    const id = ready.id;
    await router.send([id, b('garbage')]);
    await router.send([id, EMPTY, MDPW01, byte(9)]);
    await router.send([id, EMPTY, MDPW01, byte(2), b('C'), EMPTY, b('one')]);
    await router.send([id, EMPTY, MDPW01, byte(2), b('D'), EMPTY, b('two')]);
    const reply = split(await router.receiveMatching(isCommand(3)));
    expect(reply.frames).toEqual(hex([EMPTY, MDPW01, byte(3), b('C'), EMPTY, b('one')]));
    expect(worker.stats.malformed).toBe(3);
    await router.send([id, EMPTY, MDPW01, byte(2), b('E'), EMPTY, b('three')]);
    const next = split(await router.receiveMatching(isCommand(3)));
    expect(next.frames).toEqual(hex([EMPTY, MDPW01, byte(3), b('E'), EMPTY, b('three')]));
  });

  it('closes with the error when the broker endpoint cannot be connected', async () => {
    const worker = track(new MajordomoWorker({ broker: 'tcp://no-such-host-name-:x', service: 'svc' }));
    await expect(worker.start()).rejects.toThrow();
    expect(worker.lifecycle).toBe('closed');
  });

  it('refuses mmi.* service names and bad options', () => {
    expect(() => new MajordomoWorker({ broker: 'tcp://127.0.0.1:1', service: 'mmi.service' })).toThrow(/reserved/);
    expect(() => new MajordomoWorker({ broker: 'tcp://127.0.0.1:1', service: 's', heartbeatIntervalMs: 0 })).toThrow(
      /heartbeatIntervalMs/,
    );
  });
});

describe('MajordomoWorker with the real Broker', () => {
  it('serves through the iterator form', async () => {
    const broker = track(await Broker.start({ bind: 'tcp://127.0.0.1:*', heartbeatIntervalMs: 100 }));
    const endpoint = broker.endpoints.clients[0] as string;
    const worker = track(await MajordomoWorker.start({ broker: endpoint, service: 'iter', heartbeatIntervalMs: 100 }));
    void (async () => {
      for await (const request of worker) await request.reply([b('it:'), ...request.body]);
    })();
    const client = track(await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 2000, retries: 0 }));
    expect((await client.request('iter', 'x')).map(String)).toEqual(['it:', 'x']);
    expect((await client.request('iter', 'y')).map(String)).toEqual(['it:', 'y']);
  });

  it('re-registers after the broker restarts on the same endpoint, and clients succeed again', async () => {
    const endpoint = ipcEndpoint('mdp-restart');
    const options = { heartbeatIntervalMs: 100, liveness: 3 };
    let broker = await Broker.start({ bind: endpoint, ...options });
    const worker = track(
      await MajordomoWorker.start({
        broker: endpoint,
        service: 'echo',
        ...options,
        reconnectDelay: () => 50,
        handler: (r) => r,
      }),
    );
    const client = track(await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 1000, retries: 5 }));
    expect((await client.request('echo', 'before')).map(String)).toEqual(['before']);
    const sessions = worker.stats.sessions;
    await broker.close();
    broker = track(await Broker.start({ bind: endpoint, ...options }));
    expect((await client.request('echo', 'after')).map(String)).toEqual(['after']);
    expect(worker.stats.sessions).toBeGreaterThan(sessions);
  });
});
