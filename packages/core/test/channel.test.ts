/**
 * The socket wrapper on real sockets, over tcp, ipc and inproc:
 *
 *   4 concurrent senders --> [Channel: one FIFO queue, one pump] --> DEALER ==> ROUTER (reader)
 */
import * as zmq from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError, ipcEndpoint, inprocEndpoint, type Message } from '@zpatterns/core';
import { Channel } from '@zpatterns/core/internal';

const protocols = {
  tcp: () => 'tcp://127.0.0.1:*',
  ipc: () => ipcEndpoint('core-test'),
  inproc: () => inprocEndpoint('core-test'),
} as const;

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

async function pair(protocol: keyof typeof protocols) {
  const router = new zmq.Router({ linger: 0 });
  await router.bind(protocols[protocol]());
  const dealer = new zmq.Dealer({ linger: 0 });
  dealer.connect(router.lastEndpoint ?? '');
  cleanup.push(() => {
    router.close();
    dealer.close();
  });
  return { router, dealer };
}

describe.each(Object.keys(protocols) as (keyof typeof protocols)[])('Channel over %s', (protocol) => {
  it('4 concurrent senders x 50k messages: no EBUSY, per-sender order kept, nothing lost', async () => {
    const { router, dealer } = await pair(protocol);
    const out = new Channel(dealer);
    const senders = 4;
    const perSender = 50_000;
    const lastSeen = new Array<number>(senders).fill(-1);
    let total = 0;
    let outOfOrder = 0;
    const inbound = new Channel(router);
    const allReceived = new Promise<void>((resolve) => {
      void inbound.start((message: Message) => {
        const body = message[1] as Buffer;
        const sender = body.readUInt8(0);
        const seq = body.readUInt32BE(1);
        if (seq !== (lastSeen[sender] as number) + 1) outOfOrder++;
        lastSeen[sender] = seq;
        if (++total === senders * perSender) resolve();
      });
    });
    const send = async (sender: number): Promise<void> => {
      for (let seq = 0; seq < perSender; seq++) {
        const body = Buffer.allocUnsafe(5);
        body.writeUInt8(sender, 0);
        body.writeUInt32BE(seq, 1);
        // Await every 100th send, so the queue both grows and drains while senders interleave.
        if (seq % 100 === 99) await out.send([body]);
        else void out.send([body]);
      }
    };
    await Promise.all([0, 1, 2, 3].map(send));
    await allReceived;
    expect(total).toBe(senders * perSender);
    expect(outOfOrder).toBe(0);
    expect(lastSeen).toEqual([perSender - 1, perSender - 1, perSender - 1, perSender - 1]);
    expect(out.stats.sent).toBe(senders * perSender);
    expect(out.stats.sendErrors).toBe(0);
    await out.close();
    await inbound.close();
  }, 60_000);
});

describe('Channel with directSend (sendTimeout 0)', () => {
  it('post() and send() from 4 senders x 20k, mixed with a bind: order kept, nothing lost, all counted', async () => {
    const router = new zmq.Router({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
    await router.bind('tcp://127.0.0.1:*');
    const dealer = new zmq.Dealer({ linger: 0, sendTimeout: 0, sendHighWaterMark: 0 });
    dealer.connect(router.lastEndpoint ?? '');
    cleanup.push(() => {
      router.close();
      dealer.close();
    });
    const out = new Channel(dealer, { directSend: true });
    const inbound = new Channel(router);
    const senders = 4;
    const perSender = 20_000;
    const lastSeen = new Array<number>(senders).fill(-1);
    let total = 0;
    let outOfOrder = 0;
    const allReceived = new Promise<void>((resolve) => {
      void inbound.start((message: Message) => {
        const body = message[1] as Buffer;
        const sender = body.readUInt8(0);
        const seq = body.readUInt32BE(1);
        if (seq !== (lastSeen[sender] as number) + 1) outOfOrder++;
        lastSeen[sender] = seq;
        if (++total === senders * perSender) resolve();
      });
    });
    const send = async (sender: number): Promise<void> => {
      for (let seq = 0; seq < perSender; seq++) {
        const body = Buffer.allocUnsafe(5);
        body.writeUInt8(sender, 0);
        body.writeUInt32BE(seq, 1);
        if (seq % 100 === 99) await out.send([body]);
        else out.post([body]);
      }
    };
    // A bind on the sending socket while it sends: EBUSY sends go through the queue, in order.
    const binding = (async () => {
      for (let i = 0; i < 3; i++) await dealer.bind(ipcEndpoint('direct-bind'));
    })();
    await Promise.all([...[0, 1, 2, 3].map(send), binding]);
    await allReceived;
    expect(total).toBe(senders * perSender);
    expect(outOfOrder).toBe(0);
    await out.drain();
    expect(out.stats.sent).toBe(senders * perSender);
    expect(out.stats.sendErrors).toBe(0);
    await inbound.close();
  }, 60_000);

  it('send() rejects with the socket error and counts it; post() reports it to onSendError', async () => {
    const router = new zmq.Router({ linger: 0, mandatory: true, sendTimeout: 0 });
    await router.bind('tcp://127.0.0.1:*');
    const errors: string[] = [];
    const channel = new Channel(router, {
      directSend: true,
      onSendError: (err) => errors.push((err as { code?: string }).code ?? err.message),
    });
    cleanup.push(() => channel.close());
    await expect(channel.send([Buffer.from('nobody'), Buffer.from('hello')])).rejects.toMatchObject({
      code: 'EHOSTUNREACH',
    });
    expect(channel.post([Buffer.from('nobody'), Buffer.from('hello')])).toBe(true);
    await channel.drain();
    expect(errors).toEqual(['EHOSTUNREACH']);
    expect(channel.stats.sendErrors).toBe(2);
    expect(channel.stats.sent).toBe(0);
  });

  it('post() hands onSendError the very message that failed, among posts that did not and send()s', async () => {
    const router = new zmq.Router({ linger: 0, mandatory: true, sendTimeout: 0 });
    await router.bind('tcp://127.0.0.1:*');
    const dealer = new zmq.Dealer({ linger: 0, routingId: 'here' });
    dealer.connect(router.lastEndpoint ?? '');
    cleanup.push(() => dealer.close());
    const failed: string[] = [];
    const channel = new Channel(router, {
      directSend: true,
      onSendError: (_err, message) => failed.push(String(message[1])),
    });
    cleanup.push(() => channel.close());
    // The ROUTER knows the DEALER once it has heard from it.
    await dealer.send('hello');
    const [, hello] = await router.receive();
    expect(String(hello)).toBe('hello');
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      const peer = i % 3 === 0 ? 'gone' : 'here';
      if (i % 7 === 0) sends.push(channel.send([peer, `s${i}`]).catch(() => undefined));
      else channel.post([peer, `p${i}`]);
    }
    await Promise.all(sends);
    await channel.drain();
    const expected: string[] = [];
    for (let i = 0; i < 300; i++) if (i % 3 === 0 && i % 7 !== 0) expected.push(`p${i}`);
    expect(failed).toEqual(expected);
    expect(channel.stats.sent).toBe(200);
    expect(channel.stats.sendErrors).toBe(100);
  });
});

describe('Channel lifecycle', () => {
  it('close() with sends pending settles every one of them: sent or ClosedError, none left hanging', async () => {
    // A DEALER with nobody connected blocks at its high-water mark, so sends pile up in our queue.
    const dealer = new zmq.Dealer({ linger: 0, sendHighWaterMark: 10, immediate: true });
    dealer.connect(ipcEndpoint('nobody')); // nobody listens: no connection, so sends wait for one
    const channel = new Channel(dealer);
    const results = await (async () => {
      const promises = Array.from({ length: 200 }, (_, i) => channel.send([`m${i}`]));
      await new Promise((r) => setTimeout(r, 50));
      expect(channel.queued).toBeGreaterThan(0);
      await channel.close();
      return Promise.allSettled(promises);
    })();
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    expect(results.length).toBe(200);
    // Every rejection is ours: the send the pump had handed to libzmq when the socket closed
    // included (zeromq.js rejects that one with a raw EAGAIN).
    const reasons = rejected.map((r) => (r.reason as Error).constructor.name);
    expect(reasons.filter((name) => name !== 'ClosedError')).toEqual([]);
    for (const r of rejected) expect(r.reason).toMatchObject({ code: 'ERR_CLOSED' });
    await expect(channel.send(['late'])).rejects.toBeInstanceOf(ClosedError);
    expect(channel.post(['late'])).toBe(false);
    expect(await channel.closed()).toBeUndefined();
  });

  it('blocks senders at the high-water mark (back-pressure) and releases them when the peer reads', async () => {
    // inproc: no kernel socket buffers in between, so the high-water marks alone hold messages back.
    const router = new zmq.Router({ linger: 0, receiveHighWaterMark: 5 });
    await router.bind(inprocEndpoint('hwm'));
    const dealer = new zmq.Dealer({ linger: 0, sendHighWaterMark: 5 });
    dealer.connect(router.lastEndpoint ?? '');
    const channel = new Channel(dealer);
    cleanup.push(() => channel.close());
    cleanup.push(() => void router.close());
    let settled = 0;
    const sends = Array.from({ length: 2000 }, (_, i) => channel.send([Buffer.alloc(1024, i)]).then(() => settled++));
    await new Promise((r) => setTimeout(r, 200));
    // Nobody reads: libzmq takes what the two high-water marks hold (inproc adds them: 5 + 5), the
    // pump waits on the next one, and the rest stays in our queue.
    expect(settled).toBeGreaterThan(0);
    expect(settled).toBeLessThanOrEqual(10);
    expect(channel.queued).toBe(2000 - settled - 1);
    const inbound = new Channel(router);
    let received = 0;
    void inbound.start(() => {
      received++;
    });
    await Promise.all(sends);
    expect(settled).toBe(2000);
    await inbound.close();
    expect(received).toBeGreaterThan(0);
  });

  it('drain() hands every queued message to libzmq before closing', async () => {
    const { router, dealer } = await pair('tcp');
    dealer.linger = 5000; // what libzmq holds at close is flushed within the linger period
    const channel = new Channel(dealer);
    for (let i = 0; i < 1000; i++) channel.post([String(i)]);
    await channel.drain();
    expect(channel.stats.sent).toBe(1000);
    const inbound = new Channel(router);
    const it = inbound.messages();
    let count = 0;
    for await (const _ of it) if (++count === 1000) break;
    expect(count).toBe(1000);
    await inbound.close();
  });

  it('drain({ timeoutMs }) closes after the bound when libzmq cannot take a message (no peer at all)', async () => {
    const dealer = new zmq.Dealer({ linger: 0 }); // never connected: a send waits for a peer for ever
    const channel = new Channel(dealer);
    channel.post(['nobody']);
    const unbounded = channel.drain();
    const first = await Promise.race([
      unbounded.then(() => 'drained'),
      new Promise((resolve) => setTimeout(() => resolve('still draining'), 300).unref()),
    ]);
    expect(first).toBe('still draining');
    await channel.drain({ timeoutMs: 100 });
    expect(dealer.closed).toBe(true);
    expect(channel.stats.sent).toBe(0);
    await unbounded; // the close ends the first drain too
  });

  it('a throwing handler is counted and the loop goes on; the loop ends when the socket closes', async () => {
    const { router, dealer } = await pair('inproc');
    const inbound = new Channel(router);
    const seen: string[] = [];
    const loop = inbound.start((m) => {
      const body = (m[1] as Buffer).toString();
      if (body === 'bad') throw new Error('handler bug');
      seen.push(body);
    });
    const out = new Channel(dealer);
    await out.send(['a']);
    await out.send(['bad']);
    await out.send(['b']);
    while (seen.length < 2) await new Promise((r) => setTimeout(r, 5));
    expect(seen).toEqual(['a', 'b']);
    expect(inbound.stats.handlerErrors).toBe(1);
    await inbound.close();
    await expect(loop).resolves.toBeUndefined();
    expect(() => inbound.start(() => undefined)).toThrow(/already running/);
    await out.close();
  });

  it('post() to a vanished ROUTER peer reports EHOSTUNREACH to onSendError instead of stalling', async () => {
    const router = new zmq.Router({ linger: 0, mandatory: true, sendTimeout: 0 });
    await router.bind('tcp://127.0.0.1:*');
    const errors: string[] = [];
    const channel = new Channel(router, { onSendError: (err) => errors.push((err as { code?: string }).code ?? '') });
    channel.post([Buffer.from('nobody'), Buffer.from('hello')]);
    await channel.drain();
    expect(errors).toEqual(['EHOSTUNREACH']);
    expect(channel.stats.sendErrors).toBe(1);
  });
});

describe.each([
  ['pump', -1],
  ['directSend (sendTimeout 0)', 0],
] as const)('Channel while the socket binds, %s', (_mode, sendTimeout) => {
  it('keeps receiving and sending when bind() runs under traffic (zeromq.js EBUSY during a bind)', async () => {
    // No high-water marks: a ROUTER silently drops at its HWM, which is not what this test is about.
    const router = new zmq.Router({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0, sendTimeout });
    await router.bind('tcp://127.0.0.1:*');
    const channel = new Channel(router, { directSend: true });
    let received = 0;
    void channel.start((message) => {
      received++;
      channel.post(message); // echo
    });
    const dealer = new zmq.Dealer({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
    dealer.connect(router.lastEndpoint ?? '');
    const client = new Channel(dealer);
    cleanup.push(() => client.close());
    cleanup.push(() => channel.close());
    let echoed = 0;
    void client.start(() => {
      echoed++;
    });
    const flood = (async () => {
      for (let i = 0; i < 5000; i++) await client.send([String(i)]);
    })();
    for (let i = 0; i < 5; i++) await router.bind(ipcEndpoint('bind-race'));
    await flood;
    const until = Date.now() + 10_000;
    while (echoed < 5000 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(received).toBe(5000);
    expect(echoed).toBe(5000);
    expect(await Promise.race([channel.closed(), Promise.resolve('open')])).toBe('open');
  });
});
