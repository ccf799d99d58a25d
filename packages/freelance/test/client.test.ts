/**
 * FreelanceClient against in-process servers on real sockets: FreelanceServer instances, and raw
 * ROUTER "servers" (routing id = endpoint) that answer PING but misbehave on requests.
 *
 *   FreelanceClient ROUTER --[A]["PING"]/[A][id][body]--> server A (ROUTER, routingId "tcp://...:A")
 *                          --[B]...                    --> server B
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { ClosedError, TimeoutError } from '@zpatterns/core';
import { eventually, ipcEndpoint, startTcpProxy } from '@zpatterns/testkit';
import {
  FreelanceClient,
  FreelanceServer,
  type FreelanceClientOptions,
  type FreelanceClientStatus,
} from '../src/index.js';
import { freeTcpEndpoint } from '../src/protocol.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

async function servers(n: number): Promise<FreelanceServer[]> {
  const started = await Promise.all(
    Array.from({ length: n }, () => FreelanceServer.start({ bind: 'tcp://127.0.0.1:*' })),
  );
  for (const s of started) cleanup.push(() => s.close());
  return started;
}

async function client(options: FreelanceClientOptions): Promise<FreelanceClient> {
  const c = new FreelanceClient({ heartbeatIntervalMs: 200, peerTtlMs: 600, connectPingMs: 20, ...options });
  cleanup.push(() => c.close());
  await c.start();
  return c;
}

/** A raw server: answers PING with PONG; `onRequest` decides what (if anything) to send back. */
async function rawServer(onRequest: (message: Buffer[], socket: zmq.Router) => Promise<void> | void): Promise<string> {
  const endpoint = await freeTcpEndpoint();
  const socket = new zmq.Router({ linger: 0, routingId: endpoint });
  await socket.bind(endpoint);
  const loop = (async () => {
    try {
      for await (const message of socket) {
        if (String(message[1]) === 'PING') await socket.send([message[0] as Buffer, 'PONG']);
        else await onRequest(message, socket);
      }
    } catch {
      // closed
    }
  })();
  cleanup.push(async () => {
    socket.close();
    await loop;
  });
  return endpoint;
}

type Event = FreelanceClientStatus | { type: 'started' } | { type: 'closed'; error?: Error };

/** Read `feed` until an event matches; what was read on the way is kept in `seen`. */
async function until(feed: AsyncIterator<Event>, match: (event: Event) => boolean, seen: Event[] = []): Promise<Event> {
  for (;;) {
    const next = await feed.next();
    if (next.done === true) throw new Error(`status feed ended; seen: ${JSON.stringify(seen)}`);
    seen.push(next.value);
    if (match(next.value)) return next.value;
  }
}

async function run(c: FreelanceClient, total: number, window: number): Promise<string[][]> {
  const replies: string[][] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      const reply = await c.request([`req-${i}`]);
      expect(reply.map(String)).toEqual([`req-${i}`]);
      replies.push(reply.map(String));
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  return replies;
}

describe('FreelanceClient', () => {
  it('priority sends everything to the first server; round-robin spreads over all', async () => {
    const three = await servers(3);
    const endpoints = three.map((s) => s.endpoints.clients);
    const first = await client({ servers: endpoints });
    await eventually(() => first.servers.every((s) => s.alive));
    await run(first, 100, 10);
    expect(first.servers.map((s) => s.replies)).toEqual([100, 0, 0]);

    const spread = await client({ servers: endpoints, strategy: 'round-robin' });
    await eventually(() => spread.servers.every((s) => s.alive));
    await run(spread, 99, 10);
    expect(spread.servers.map((s) => s.replies).every((n) => n > 10)).toBe(true);
    expect(spread.stats).toMatchObject({ requests: 99, replies: 99, retries: 0, timeouts: 0 });
  });

  it("strategy 'all' (model two) sends to every live server; the first reply wins, the rest are dropped", async () => {
    const three = await servers(3);
    const c = await client({ servers: three.map((s) => s.endpoints.clients), strategy: 'all' });
    await eventually(() => c.servers.every((s) => s.alive));
    await run(c, 20, 1);
    await eventually(() => c.stats.duplicates === 40);
    expect(c.servers.map((s) => s.sent)).toEqual([20, 20, 20]);
    expect(three.map((s) => s.stats.requests)).toEqual([20, 20, 20]);
  });

  it('resends to the next server on attempt timeout, then fails naming the servers tried', async () => {
    const seen: string[] = [];
    const a = await rawServer((m) => void seen.push(`a:${String(m[1])}`));
    const b = await rawServer((m) => void seen.push(`b:${String(m[1])}`));
    const c = await client({ servers: [a, b], attemptTimeoutMs: 150, retries: 1, timeoutMs: 5000 });
    const err = await c.request(['x']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'ERR_TIMEOUT', attempts: 2 });
    expect((err as TimeoutError).message).toContain(`servers tried: ${a}, ${b}`);
    expect(seen).toEqual(['a:1', 'b:1']);
    expect(c.stats).toMatchObject({ retries: 1, timeouts: 1 });
  });

  it("request() takes retries; options left undefined keep the client's defaults", async () => {
    const seen: string[] = [];
    const a = await rawServer((m) => void seen.push(String(m[1])));
    const c = await client({ servers: [a], attemptTimeoutMs: 100, retries: 3, timeoutMs: undefined });
    const err = await c.request(['x'], { retries: 0, timeoutMs: undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'ERR_TIMEOUT', attempts: 1 });
    expect(seen).toEqual(['1']);
    expect(c.stats).toMatchObject({ requests: 1, retries: 0, timeouts: 1 });
    await expect(c.request(['y'], { retries: -1 })).rejects.toThrow(
      'FreelanceClient.request: retries must be a whole number >= 0 (or Infinity), got -1',
    );
  });

  it('a late reply to an earlier attempt still answers, from the first server; a second copy is dropped', async () => {
    const held: { message: Buffer[]; socket: zmq.Router }[] = [];
    const a = await rawServer((message, socket) => void held.push({ message, socket }));
    const atB: string[] = [];
    const b = await rawServer((m) => void atB.push(String(m[1])));
    const c = await client({ servers: [a, b], attemptTimeoutMs: 100, retries: 3, timeoutMs: 5000 });
    const answer = c.request(['late']);
    await eventually(() => atB.length > 0);
    // The client has moved on to b; a answers now: the reply still settles the request (by id).
    const { message, socket } = held[0] ?? { message: [], socket: undefined };
    await socket?.send([...message.slice(0, 2), 'from a']);
    expect((await answer).map(String)).toEqual(['from a']);
    await socket?.send([...message.slice(0, 2), 'again']);
    await eventually(() => c.stats.duplicates === 1);
    expect(c.servers.map((s) => s.replies)).toEqual([1, 0]);
  });

  it('works against the book\'s flserver3, which answers [control]["OK"]', async () => {
    const flserver3 = await rawServer(async ([peer, control], socket) => {
      await socket.send([peer as Buffer, control as Buffer, 'OK']);
    });
    const c = await client({ servers: [flserver3] });
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => c.request(['random name', String(i)])));
    expect(replies.map((r) => r.map(String))).toEqual(Array.from({ length: 20 }, () => ['OK']));
  });

  it('drops replies to requests already answered, counting them', async () => {
    const a = await rawServer(async (message, socket) => {
      await socket.send(message);
      await socket.send(message);
    });
    const c = await client({ servers: [a] });
    expect((await c.request(['once'])).map(String)).toEqual(['once']);
    expect((await c.request(['twice'])).map(String)).toEqual(['twice']);
    await eventually(() => c.stats.duplicates === 2);
    expect(c.stats.replies).toBe(2);
  });

  it('times out with no server reachable, aborts, and rejects pending requests on close', async () => {
    const nowhere = await freeTcpEndpoint();
    const c = await client({ servers: [nowhere] });
    const err = await c.request(['x'], { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'ERR_TIMEOUT', attempts: 0 });
    expect((err as TimeoutError).message).toContain('servers tried: none');
    const controller = new AbortController();
    const aborted = c.request(['y'], { signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    const pending = c.request(['z']);
    await c.close();
    await c.close();
    await expect(pending).rejects.toBeInstanceOf(ClosedError);
    await expect(c.request(['after'])).rejects.toBeInstanceOf(ClosedError);
    expect(c.servers[0]?.state).toBe('connecting');
  });

  it('a server that closes is declared dead and its requests go to the next one', async () => {
    const [a, b] = await servers(2);
    if (a === undefined || b === undefined) throw new Error('no servers');
    const c = await client({ servers: [a.endpoints.clients, b.endpoints.clients] });
    await eventually(() => c.servers.every((s) => s.alive));
    await c.request(['warm']);
    await a.close();
    await run(c, 50, 5);
    expect(c.servers[0]?.alive).toBe(false);
    expect(c.servers[1]?.replies).toBeGreaterThan(0);
    expect(c.stats.serverDeaths).toBe(1);
  });

  it('rejects bad options with a typed error naming the option', () => {
    expect(() => new FreelanceClient({ servers: ['tcp://127.0.0.1:5'], retries: -1 })).toThrow(/retries/);
    expect(() => new FreelanceClient({ servers: ['tcp://127.0.0.1:5'], timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => new FreelanceClient({ servers: [] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });
});

describe('FreelanceClient status()', () => {
  it('a black-holed server is disconnected (silent) after peerTtlMs of silence, and connected when the link heals', async () => {
    const [b] = await servers(1);
    if (b === undefined) throw new Error('no server');
    // Server A is reached through a proxy: its public endpoint (routing id) is the proxy's.
    const bind = await freeTcpEndpoint();
    const proxy = await startTcpProxy({ target: bind });
    cleanup.push(() => proxy.close());
    const a = await FreelanceServer.start({ bind, endpoint: proxy.endpoint });
    cleanup.push(() => a.close());
    const c = new FreelanceClient({
      servers: [a.endpoints.clients, b.endpoints.clients],
      heartbeatIntervalMs: 100,
      peerTtlMs: 600,
      connectPingMs: 20,
    });
    cleanup.push(() => c.close());
    const feed = c.status();
    const seen: Event[] = [];
    await c.start();
    const alive = new Set<string>();
    await until(feed, (e) => e.type === 'connected' && alive.add(e.peer).size === 2, seen);
    expect(seen[0]).toEqual({ type: 'started' });

    proxy.blackhole();
    const dead = await until(feed, (e) => e.type === 'disconnected', seen);
    expect(dead).toMatchObject({ type: 'disconnected', peer: a.endpoints.clients, reason: 'silent' });
    expect((dead as { silentMs: number }).silentMs).toBeGreaterThanOrEqual(600);
    expect(c.servers.map((s) => s.state)).toEqual(['dead', 'alive']);
    expect(c.stats.serverDeaths).toBe(1);
    // Meanwhile requests go to B.
    expect((await c.request(['while a is away'])).map(String)).toEqual(['while a is away']);
    expect(c.servers.map((s) => s.replies)).toEqual([0, 1]);

    proxy.forward();
    await until(feed, (e) => e.type === 'connected', seen);
    expect(seen.at(-1)).toEqual({ type: 'connected', peer: a.endpoints.clients });
    expect((await c.request(['a is back'])).map(String)).toEqual(['a is back']);
    expect(c.servers.map((s) => s.replies)).toEqual([1, 1]);
    await c.close();
    await until(feed, (e) => e.type === 'closed', seen);
    expect(seen.filter((e) => e.type === 'disconnected')).toHaveLength(1);
  });

  it('a closed server is disconnected (silent); restarted on its endpoint it is connected again', async () => {
    const [a, b] = await servers(2);
    if (a === undefined || b === undefined) throw new Error('no servers');
    const c = new FreelanceClient({
      servers: [a.endpoints.clients, b.endpoints.clients],
      heartbeatIntervalMs: 100,
      peerTtlMs: 600,
      connectPingMs: 20,
    });
    cleanup.push(() => c.close());
    const feed = c.status();
    await c.start();
    await until(feed, (e) => e.type === 'connected' && e.peer === a.endpoints.clients);
    await a.close();
    const dead = await until(feed, (e) => e.type === 'disconnected');
    expect(dead).toMatchObject({ peer: a.endpoints.clients, reason: 'silent' });
    expect(c.servers.map((s) => s.state)).toEqual(['dead', 'alive']);
    const again = await FreelanceServer.start({ bind: a.endpoints.bound });
    cleanup.push(() => again.close());
    expect(await until(feed, (e) => e.type === 'connected')).toEqual({ type: 'connected', peer: a.endpoints.clients });
  });
});

describe('sendHighWaterMark', () => {
  it('counts sends refused at a stuck server (EAGAIN), warns once per second at most, and times the requests out', async () => {
    // A server that answers PING, then reads one request and never another: its pipes fill up.
    const endpoint = ipcEndpoint('fl-hwm');
    const socket = new zmq.Router({ linger: 0, routingId: endpoint, receiveHighWaterMark: 1 });
    await socket.bind(endpoint);
    let release: () => void = () => undefined;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const loop = (async () => {
      try {
        for await (const message of socket) {
          if (String(message[1]) === 'PING') await socket.send([message[0] as Buffer, 'PONG']);
          else await stuck;
        }
      } catch {
        // closed
      }
    })();
    cleanup.push(async () => {
      release();
      socket.close();
      await loop;
    });
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as never) });
    const c = await client({
      servers: [endpoint],
      sendHighWaterMark: 10,
      timeoutMs: 400,
      attemptTimeoutMs: 300,
      retries: 0,
      logger,
    });
    await eventually(() => c.servers[0]?.alive);
    // 300 x 64 KiB = 19 MiB: more than the pipes (10 + 1 messages) and the ipc socket buffers hold.
    const body = Buffer.alloc(64 * 1024, 1);
    const results = await Promise.allSettled(Array.from({ length: 300 }, () => c.request([body])));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(c.stats.refusedSends).toBeGreaterThan(100);
    const warnings = lines.filter((l) => String(l['msg']).startsWith('send refused at sendHighWaterMark'));
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings[0]).toMatchObject({ server: endpoint, sendHighWaterMark: 10 });
    // Once per second at most: every warning is a second or more after the one before it (pino
    // stamps whole milliseconds, so allow one for rounding).
    const times = warnings.map((l) => Number(l['time']));
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(gaps.filter((gap) => gap < 999)).toEqual([]);
  });
});
