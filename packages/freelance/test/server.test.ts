/**
 * FreelanceServer on real sockets, spoken to by raw ROUTER peers exactly as the book's flcliapi
 * agent speaks (ROUTER to ROUTER, the server addressed by its endpoint string):
 *
 *   raw ROUTER --[endpoint]["PING"]-------------> FreelanceServer --["PONG"]
 *   raw ROUTER --[endpoint]["1"]["random name"]-> FreelanceServer --["1"]["random name"]
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { eventually, RawPeer, rawDealer, randomMessage, seededRandom } from '@zpatterns/testkit';
import { FreelanceServer, type FreelanceServerOptions } from '../src/index.js';
import { freeTcpEndpoint, PING } from '../src/protocol.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

async function server(options: Partial<FreelanceServerOptions> = {}): Promise<FreelanceServer> {
  const s = await FreelanceServer.start({ bind: 'tcp://127.0.0.1:*', ...options });
  cleanup.push(() => s.close());
  return s;
}

/** A client ROUTER like flcliapi's: connect, then PING until the first PONG proves the route is up. */
async function bookClient(endpoint: string): Promise<RawPeer<zmq.Router>> {
  const socket = new zmq.Router({ linger: 0, mandatory: true, sendTimeout: 0 });
  socket.connect(endpoint);
  const peer = new RawPeer(socket);
  cleanup.push(() => peer.close());
  await eventually(async () => {
    try {
      await peer.send([endpoint, 'PING']);
      return true;
    } catch {
      return false;
    }
  });
  const pong = await peer.receive();
  expect(pong.map(String)).toEqual([endpoint, 'PONG']);
  return peer;
}

describe('FreelanceServer', () => {
  it('takes its endpoint as routing id, answers PING and echoes [control][body...]', async () => {
    const s = await server();
    expect(s.endpoints.clients).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(s.endpoints.bound).toBe(s.endpoints.clients);
    const peer = await bookClient(s.endpoints.clients);
    await peer.send([s.endpoints.clients, '1', 'random name']);
    expect((await peer.receive()).map(String)).toEqual([s.endpoints.clients, '1', 'random name']);
    await peer.send([s.endpoints.clients, Buffer.from([0, 255]), '', 'b']);
    const reply = await peer.receive();
    expect(reply.map((f) => f.toString('hex'))).toEqual([
      Buffer.from(s.endpoints.clients).toString('hex'),
      '00ff',
      '',
      '62',
    ]);
    expect(s.stats).toMatchObject({ pings: 1, requests: 2, replies: 2, malformed: 0 });
  });

  it('a public endpoint different from the bind endpoint is the routing id (the book binds * as localhost)', async () => {
    const bind = await freeTcpEndpoint();
    const endpoint = bind.replace('127.0.0.1', 'localhost');
    const s = await server({ bind, endpoint });
    expect(s.endpoints.clients).toBe(endpoint);
    const peer = await bookClient(endpoint);
    await peer.send([endpoint, '7']);
    expect((await peer.receive()).map(String)).toEqual([endpoint, '7']);
  });

  it('runs handlers concurrently and replies in completion order', async () => {
    const s = await server({
      handler: async ([delay]) => {
        await new Promise((r) => setTimeout(r, Number(String(delay))));
        return [`waited ${String(delay)}`];
      },
    });
    const peer = await bookClient(s.endpoints.clients);
    await peer.send([s.endpoints.clients, 'a', '300']);
    await peer.send([s.endpoints.clients, 'b', '10']);
    expect((await peer.receive()).map(String)).toEqual([s.endpoints.clients, 'b', 'waited 10']);
    expect((await peer.receive()).map(String)).toEqual([s.endpoints.clients, 'a', 'waited 300']);
  });

  it('counts and drops a missing control frame, an oversize request and a failing handler', async () => {
    const s = await server({
      maxMessageBytes: 1000,
      handler: ([first]) => {
        if (String(first) === 'throw') throw new Error('boom');
        return [first ?? ''];
      },
    });
    const peer = await bookClient(s.endpoints.clients);
    // A ROUTER cannot send a message without a control frame; an empty one is the wire's "missing".
    await peer.send([s.endpoints.clients, '']);
    // Over 1000 bytes in all, each frame under it (a single bigger frame never reaches the server).
    await peer.send([s.endpoints.clients, '2', Buffer.alloc(400), Buffer.alloc(400), Buffer.alloc(400)]);
    await peer.send([s.endpoints.clients, '3', 'throw']);
    await peer.send([s.endpoints.clients, '4', 'ok']);
    expect((await peer.receive()).map(String)).toEqual([s.endpoints.clients, '4', 'ok']);
    expect(s.stats).toMatchObject({ malformed: 1, oversize: 1, handlerErrors: 1, replies: 1 });
    await peer.expectNothing(100);
  });

  it('survives 10,000 random multipart messages and still answers', async () => {
    const s = await server();
    // A DEALER (no routing frame to get right) so that every random frame reaches the parser.
    const peer = rawDealer(s.endpoints.clients);
    cleanup.push(() => peer.close());
    const random = seededRandom(9);
    const vocabulary = [PING, Buffer.from('PONG'), Buffer.from('1'), Buffer.alloc(0)];
    for (let i = 0; i < 10_000; i++) {
      const message = randomMessage(random, vocabulary);
      await peer.send(message.length === 0 ? [Buffer.alloc(0)] : message);
    }
    await peer.send(['final', 'still here']);
    const reply = await peer.receiveMatching((m) => String(m[0]) === 'final', 15_000);
    expect(reply.map(String)).toEqual(['final', 'still here']);
    expect(s.stats.malformed).toBeGreaterThan(0);
  });

  it('handler: one frame or several, and a signal that aborts when the server closes', async () => {
    let signal: AbortSignal | undefined;
    const s = await server({
      handler: (body, context) => {
        signal = context.signal;
        return String(body[0]) === 'one' ? 'a single frame' : ['two', 'frames'];
      },
    });
    const peer = await bookClient(s.endpoints.clients);
    await peer.send([s.endpoints.clients, '1', 'one']);
    expect((await peer.receive()).map(String)).toEqual([s.endpoints.clients, '1', 'a single frame']);
    await peer.send([s.endpoints.clients, '2', 'many']);
    expect((await peer.receive()).map(String)).toEqual([s.endpoints.clients, '2', 'two', 'frames']);
    expect(signal?.aborted).toBe(false);
    await s.close();
    expect(signal?.aborted).toBe(true);
  });

  it("maxMessageBytes is per server: a frame over one server's limit is dropped by libzmq, another server in the process takes it", async () => {
    const small = await server({ maxMessageBytes: 1000 });
    const large = await server({ maxMessageBytes: 64 * 1024 });
    const big = Buffer.alloc(2000, 7);
    const toLarge = await bookClient(large.endpoints.clients);
    await toLarge.send([large.endpoints.clients, '1', big]);
    expect((await toLarge.receive()).map((f) => f.length)).toEqual([large.endpoints.clients.length, 1, 2000]);
    const toSmall = await bookClient(small.endpoints.clients);
    await toSmall.send([small.endpoints.clients, '1', big]);
    await toSmall.expectNothing(300);
    // libzmq dropped the connection before the server read a byte of it: nothing was counted.
    expect(small.stats).toMatchObject({ requests: 0, oversize: 0 });
  });

  it('rejects an ipc wildcard and reports a bind failure with a typed error', async () => {
    await expect(FreelanceServer.start({ bind: 'ipc://*' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    const s = await server();
    await expect(FreelanceServer.start({ bind: s.endpoints.bound })).rejects.toMatchObject({ code: 'ERR_BIND' });
    await expect(FreelanceServer.start({ bind: s.endpoints.bound, maxFramesPerMessage: 0 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
  });
});
