/**
 * MajordomoClient and MajordomoPipeline against the real in-process Broker and real workers, plus
 * raw ROUTERs playing a misbehaving broker.
 *
 *   client --request--> Broker --REQUEST--> worker(s)
 *   client <--reply---- Broker <--REPLY---- worker(s)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AbortError, ClosedError, ManualClock, sleep, TimeoutError } from '@zpatterns/core';
import { EMPTY } from '@zpatterns/core/internal';
import { rawRouter, seededRandom } from '@zpatterns/testkit';
import { Broker, MajordomoClient, MajordomoPipeline, MajordomoWorker, type MdpVersion } from '@zpatterns/majordomo';
import { MDPC01, MDPC02 } from '@zpatterns/majordomo/protocol';

const disposables: AsyncDisposable[] = [];
function track<T extends AsyncDisposable>(resource: T): T {
  disposables.push(resource);
  return resource;
}
afterEach(async () => {
  for (const d of disposables.splice(0).reverse()) await d[Symbol.asyncDispose]();
});

const HB = { heartbeatIntervalMs: 100, liveness: 3 } as const;

/**
 * Heartbeats for a test about something else: a stall of the test process (a loaded machine, a
 * long GC) must not expire a peer and lose the requests it held.
 */
const PATIENT = { heartbeatIntervalMs: 1000, liveness: 10 } as const;

async function startBroker(hb: typeof HB | typeof PATIENT = HB): Promise<{ broker: Broker; endpoint: string }> {
  const broker = track(await Broker.start({ bind: 'tcp://127.0.0.1:*', ...hb }));
  const endpoint = broker.endpoints.clients[0] as string;
  return { broker, endpoint };
}

function echoWorker(
  endpoint: string,
  version: MdpVersion = '0.1',
  service = 'echo',
  hb: typeof HB | typeof PATIENT = HB,
): MajordomoWorker {
  const worker = track(
    new MajordomoWorker({ broker: endpoint, service, version, ...hb, handler: (request) => request }),
  );
  void worker.start();
  return worker;
}

const texts = (frames: Buffer[]): string[] => frames.map((f) => f.toString());

describe.each(['0.1', '0.2'] as const)('MajordomoClient over MDP/%s', (version) => {
  it('round-trips a multi-frame body, binary frames included', async () => {
    const { endpoint } = await startBroker();
    echoWorker(endpoint, version);
    const client = track(
      await MajordomoClient.start({ broker: endpoint, version, attemptTimeoutMs: 2000, retries: 0 }),
    );
    const body = [Buffer.from('Hello'), Buffer.from([0, 1, 255]), EMPTY, Buffer.alloc(70_000, 7)];
    const reply = await client.request('echo', body);
    expect(reply).toHaveLength(4);
    reply.forEach((frame, i) => expect(frame.equals(body[i] as Buffer)).toBe(true));
    expect(client.stats.replies).toBe(1);
  });

  it('matches every reply to its request when replies come back out of order', async () => {
    const { endpoint } = await startBroker();
    const random = seededRandom(version === '0.1' ? 1 : 2);
    for (let i = 0; i < 5; i++) {
      const worker = track(
        new MajordomoWorker({
          broker: endpoint,
          service: 'slow',
          version,
          ...HB,
          handler: async ([id]) => {
            await sleep(Math.floor(random() * 40));
            return [Buffer.from(`reply-to-${String(id)}`)];
          },
        }),
      );
      await worker.start();
    }
    const client = track(
      await MajordomoClient.start({ broker: endpoint, version, attemptTimeoutMs: 5000, retries: 0 }),
    );
    const order: number[] = [];
    const replies = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const reply = await client.request('slow', `${i}`);
        order.push(i);
        return texts(reply);
      }),
    );
    replies.forEach((reply, i) => expect(reply).toEqual([`reply-to-${i}`]));
    // The test means something only if completion order differed from sending order.
    expect(order).not.toEqual([...order].sort((a, b) => a - b));
    expect(client.sockets.open).toBeLessThanOrEqual(64);
  });
});

describe('maxMessageBytes belongs to each object', () => {
  it('carries a 17 MiB frame end to end when the broker, worker and client each allow 20 MiB', async () => {
    const maxMessageBytes = 20 * 1024 * 1024;
    // A slow heartbeat: on a loaded machine 17 MiB each way may take longer than 3 x 100 ms.
    const HB = { heartbeatIntervalMs: 2000, liveness: 5 } as const;
    const broker = track(await Broker.start({ bind: 'tcp://127.0.0.1:*', ...HB, maxMessageBytes }));
    const endpoint = broker.endpoints.clients[0] as string;
    track(
      await MajordomoWorker.start({
        broker: endpoint,
        service: 'echo',
        ...HB,
        maxMessageBytes,
        handler: (body) => body,
      }),
    );
    const client = track(
      await MajordomoClient.start({ broker: endpoint, maxMessageBytes, attemptTimeoutMs: 10_000, retries: 0 }),
    );
    const big = Buffer.alloc(17 * 1024 * 1024, 7);
    const reply = await client.request('echo', big);
    expect(reply).toHaveLength(1);
    expect(reply[0]?.equals(big)).toBe(true);
    expect(broker.stats).toMatchObject({ replies: 1, oversize: 0 });
  });
});

describe('MajordomoClient reliability', () => {
  it('resends on a fresh socket and gives up with TimeoutError after 1 + retries attempts', async () => {
    const router = track(await rawRouter());
    const client = track(await MajordomoClient.start({ broker: router.endpoint, attemptTimeoutMs: 100, retries: 2 }));
    const failed = client.request('echo', 'ping').catch((err: unknown) => err);
    const seen: Buffer[] = [];
    for (let i = 0; i < 3; i++) {
      const [identity, ...rest] = await router.receive(2000);
      expect(rest.map((f) => f.toString())).toEqual(['', 'MDPC01', 'echo', 'ping']);
      seen.push(identity as Buffer);
    }
    const err = await failed;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).code).toBe('ERR_TIMEOUT');
    expect((err as Error).message).toMatch(/3 attempts of 100 ms/);
    expect((err as Error).message).toMatch(/retries/);
    expect((err as TimeoutError).attempts).toBe(3);
    // Every attempt came from a different socket (a different ROUTER identity).
    expect(new Set(seen.map((s) => s.toString('hex'))).size).toBe(3);
    await router.expectNothing(250);
    expect(client.stats.retries).toBe(2);
    expect(client.stats.timeouts).toBe(1);
  });

  it('times attempts on the injected clock: no resend before timeoutMs, exactly one after', async () => {
    const clock = new ManualClock();
    const router = track(await rawRouter());
    const client = track(
      await MajordomoClient.start({ broker: router.endpoint, attemptTimeoutMs: 10_000, retries: 1, clock }),
    );
    const failed = client.request('svc', 'x').catch((err: unknown) => err);
    await router.receive(2000);
    clock.advance(9_999);
    await router.expectNothing(100);
    clock.advance(1);
    await router.receive(2000);
    clock.advance(9_999);
    await router.expectNothing(50);
    clock.advance(1);
    expect(await failed).toBeInstanceOf(TimeoutError);
    expect(clock.pending).toBe(0);
  });

  it('succeeds on a retry when the first attempt is not answered, ignoring the late reply', async () => {
    const router = track(await rawRouter());
    const client = track(await MajordomoClient.start({ broker: router.endpoint, attemptTimeoutMs: 400, retries: 3 }));
    const pending = client.request('svc', 'x');
    const [first] = await router.receive(2000);
    const [second] = await router.receive(2000);
    // Answer the second attempt, then (late) the first: the late reply's socket is closed, so it is lost.
    await router.send([second as Buffer, EMPTY, MDPC01, Buffer.from('svc'), Buffer.from('from-second')]);
    await router.send([first as Buffer, EMPTY, MDPC01, Buffer.from('svc'), Buffer.from('from-first')]);
    expect(texts(await pending)).toEqual(['from-second']);
    // The next request must not see the late reply.
    const next = client.request('svc', 'y');
    const [third, ...frames] = await router.receive(2000);
    expect(frames.map((f) => f.toString())).toEqual(['', 'MDPC01', 'svc', 'y']);
    await router.send([third as Buffer, EMPTY, MDPC01, Buffer.from('svc'), Buffer.from('answer-y')]);
    expect(texts(await next)).toEqual(['answer-y']);
  });

  it('drops replies with a bad header or for another service, and keeps waiting', async () => {
    const router = track(await rawRouter());
    const client = track(await MajordomoClient.start({ broker: router.endpoint, attemptTimeoutMs: 2000, retries: 0 }));
    const pending = client.request('svc', 'x');
    const [id] = await router.receive(2000);
    const peer = id as Buffer;
    await router.send([peer, EMPTY, Buffer.from('MDPC99'), Buffer.from('svc'), Buffer.from('bad header')]);
    await router.send([peer, EMPTY, MDPC01, Buffer.from('other'), Buffer.from('wrong service')]);
    await router.send([peer, Buffer.from('garbage')]);
    await router.send([peer, EMPTY, MDPC01, Buffer.from('svc'), Buffer.from('right')]);
    expect(texts(await pending)).toEqual(['right']);
    expect(client.stats.malformed).toBe(3);
  });

  it('rejects with AbortError when the signal fires, and with ClosedError after close()', async () => {
    const router = track(await rawRouter());
    const client = await MajordomoClient.start({ broker: router.endpoint, attemptTimeoutMs: 5000 });
    const controller = new AbortController();
    const aborted = client.request('svc', 'x', { signal: controller.signal });
    await router.receive(2000);
    controller.abort(new Error('user gave up'));
    await expect(aborted).rejects.toBeInstanceOf(AbortError);
    await expect(client.request('svc', 'x', { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    const inFlight = client.request('svc', 'y');
    await router.receive(2000);
    const closed = client.closed();
    await client.close();
    await closed;
    await expect(inFlight).rejects.toBeInstanceOf(ClosedError);
    await expect(client.request('svc', 'z')).rejects.toBeInstanceOf(ClosedError);
    await client.close();
  });

  it('aborts only the request whose own signal fires, on a socket reused with several signals', async () => {
    const router = track(await rawRouter());
    const client = track(
      await MajordomoClient.start({ broker: router.endpoint, attemptTimeoutMs: 5000, maxSockets: 1 }),
    );
    const reply = (message: Buffer[]): Promise<void> =>
      router.send([message[0] as Buffer, EMPTY, MDPC01, Buffer.from('svc'), message[4] as Buffer]);
    const first = new AbortController();
    const second = new AbortController();
    // Two requests with the same signal, answered, on the one socket.
    for (const body of ['1', '2']) {
      const call = client.request('svc', body, { signal: first.signal });
      await reply(await router.receive(2000));
      expect(texts(await call)).toEqual([body]);
    }
    // The next one with another signal: the first signal firing now leaves it alone.
    const call = client.request('svc', '3', { signal: second.signal });
    const outcome = call.then(
      () => 'answered',
      (err: unknown) => err,
    );
    await router.receive(2000);
    first.abort(new Error('the first signal'));
    second.abort(new Error('the second signal'));
    const err = await outcome;
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).cause).toMatchObject({ message: 'the second signal' });
    // And a request with the first (already fired) signal is refused at once.
    await expect(client.request('svc', '4', { signal: first.signal })).rejects.toBeInstanceOf(AbortError);
  });

  it('bounds open sockets with maxSockets: callers beyond it wait in FIFO order', async () => {
    const router = track(await rawRouter());
    const client = track(
      await MajordomoClient.start({ broker: router.endpoint, attemptTimeoutMs: 5000, maxSockets: 2 }),
    );
    const done: string[] = [];
    const calls = ['a', 'b', 'c', 'd'].map((name) =>
      client.request('svc', name).then((r) => done.push(texts(r)[0] ?? '')),
    );
    // Handled even if an assertion below fails first and the client's close rejects the waiters.
    void Promise.allSettled(calls);
    const first = await router.receive(2000);
    const second = await router.receive(2000);
    await router.expectNothing(100);
    expect(client.sockets).toEqual({ open: 2, idle: 0, waiting: 2 });
    const reply = (message: Buffer[]): Promise<void> =>
      router.send([message[0] as Buffer, EMPTY, MDPC01, Buffer.from('svc'), message[4] as Buffer]);
    // a and b go out on two sockets at once, so either may reach the broker first; c and d wait.
    const bodies = [first, second].map((message) => message[4]?.toString()).sort();
    expect(bodies).toEqual(['a', 'b']);
    // Free one socket at a time: the caller that has waited longest gets it, and sends, first.
    await reply(first);
    const third = await router.receive(2000);
    await router.expectNothing(100);
    await reply(second);
    const fourth = await router.receive(2000);
    bodies.push(third[4]?.toString(), fourth[4]?.toString());
    expect(bodies).toEqual(['a', 'b', 'c', 'd']);
    await reply(third);
    await reply(fourth);
    await Promise.all(calls);
    expect(done.slice(0, 2).sort()).toEqual(['a', 'b']); // each pair answers on two sockets: either may land first
    expect(done.slice(2).sort()).toEqual(['c', 'd']);
    expect(client.sockets.open).toBe(2);
  });

  it('MDP/0.2: request() resolves with the FINAL; stream() yields every PARTIAL, then the FINAL', async () => {
    const { endpoint } = await startBroker();
    const worker = track(
      new MajordomoWorker({
        broker: endpoint,
        service: 'count',
        version: '0.2',
        ...HB,
        handler: async (request, ctx) => {
          for (let i = 1; i <= 3; i++) ctx.partial([`part ${i}`]);
          return ['done', ...request];
        },
      }),
    );
    await worker.start();
    const client = track(
      await MajordomoClient.start({ broker: endpoint, version: '0.2', attemptTimeoutMs: 2000, retries: 0 }),
    );
    const final = await client.request('count', 'go');
    expect(texts(final)).toEqual(['done', 'go']);
    const streamed: [string[], boolean][] = [];
    for await (const chunk of client.stream('count', 'again')) streamed.push([texts(chunk.body), chunk.final]);
    expect(streamed).toEqual([
      [['part 1'], false],
      [['part 2'], false],
      [['part 3'], false],
      [['done', 'again'], true],
    ]);
  });

  it('MDP/0.2 raw frames: sends [MDPC02, 0x01, service, body] and accepts [MDPC02, 0x03, ...]', async () => {
    const router = track(await rawRouter());
    const client = track(
      await MajordomoClient.start({ broker: router.endpoint, version: '0.2', attemptTimeoutMs: 2000, retries: 0 }),
    );
    const pending = client.request('svc', ['a', 'b']);
    const [id, ...frames] = await router.receive(2000);
    expect(frames.map((f) => f.toString('hex'))).toEqual([MDPC02.toString('hex'), '01', '737663', '61', '62']);
    await router.send([id as Buffer, MDPC02, Buffer.from([0x03]), Buffer.from('svc'), Buffer.from('ok')]);
    expect(texts(await pending)).toEqual(['ok']);
  });

  it('asks MMI: serviceStatus() and services()', async () => {
    const { endpoint } = await startBroker();
    const worker = echoWorker(endpoint);
    const client = track(await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 2000, retries: 0 }));
    await expect(client.serviceStatus('nobody')).resolves.toBe('404');
    // The worker registers asynchronously; wait for it through MMI itself.
    for (let i = 0; i < 100 && (await client.serviceStatus('echo')) !== '200'; i++) await sleep(10);
    expect(await client.serviceStatus('echo')).toBe('200');
    const services = await client.services();
    expect(services.map((s) => [s.name.toString(), s.workers])).toEqual([['echo', 1]]);
    expect(worker.state).toMatch(/ready|connecting/);
  });
});

describe('MajordomoPipeline', () => {
  it.each(['0.1', '0.2'] as const)('sends many without waiting and reads every reply (MDP/%s)', async (version) => {
    // 2,000 requests in flight through one process: patient heartbeats, or a stall loses some
    const { endpoint } = await startBroker(PATIENT);
    echoWorker(endpoint, version, 'echo', PATIENT);
    echoWorker(endpoint, version, 'echo', PATIENT);
    const pipeline = track(await MajordomoPipeline.start({ broker: endpoint, version }));
    const n = 2000;
    for (let i = 0; i < n; i++) pipeline.send('echo', [`${i}`]);
    const seen = new Set<string>();
    for await (const reply of pipeline.replies()) {
      expect(reply.service.toString()).toBe('echo');
      seen.add(reply.body[0]?.toString() ?? '');
      if (seen.size === n) break;
    }
    expect(seen.size).toBe(n);
    expect(pipeline.stats).toMatchObject({ requests: n, replies: n, malformed: 0 });
    await expect(pipeline.recv({ timeoutMs: 50 })).rejects.toBeInstanceOf(TimeoutError);
    await pipeline.close();
    expect(() => pipeline.send('echo', 'x')).toThrow(ClosedError);
  });
});
