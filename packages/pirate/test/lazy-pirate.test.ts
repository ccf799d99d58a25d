/**
 * Lazy Pirate on real sockets against a REP server that drops, delays and crashes:
 *
 *   LazyPirateClient (REQ) --- request ---> FakeRepServer (REP)
 *        timeout? close REQ, new REQ (next server), resend; give up after `retries` resends
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  AbortError,
  ClosedError,
  InvalidArgumentError,
  ManualClock,
  NotStartedError,
  TimeoutError,
} from '@zpatterns/core';
import { eventually } from '@zpatterns/testkit';
import { LazyPirateClient, lazyPirateClientDefaults, type LazyPirateClientOptions } from '@zpatterns/pirate';
import { FakeRepServer } from './fake-rep-server.js';

const s = (text: string): Buffer => Buffer.from(text);
const texts = (frames: Buffer[]): string[] => frames.map((f) => f.toString());

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

async function server(): Promise<FakeRepServer> {
  const srv = await FakeRepServer.start();
  cleanup.push(() => srv.close());
  return srv;
}

async function client(servers: string | string[], options: Partial<LazyPirateClientOptions> = {}) {
  const c = new LazyPirateClient({ servers, attemptTimeoutMs: 150, retries: 2, ...options });
  cleanup.push(() => c.close());
  await c.start();
  return c;
}

describe('LazyPirateClient', () => {
  it('sends the caller frames and returns the reply frames', async () => {
    const srv = await server();
    const c = await client(srv.endpoint);
    expect(texts(await c.request(['hello', s('world')]))).toEqual(['hello', 'world']);
    expect(texts(srv.received[0] ?? [])).toEqual(['hello', 'world']);
    expect(c.stats).toMatchObject({ requests: 1, replies: 1, retries: 0, sockets: 1 });
  });

  it('resends on a new socket when the server drops requests, then succeeds', async () => {
    const srv = await server();
    srv.script.push('drop', 'drop');
    const c = await client(srv.endpoint);
    expect(texts(await c.request(['x']))).toEqual(['x']);
    expect(srv.received.map(texts)).toEqual([['x'], ['x'], ['x']]);
    expect(c.stats).toMatchObject({ retries: 2, timeouts: 0, sockets: 3, replies: 1 });
  });

  it('a late reply counts as a failed attempt and the resend is answered', async () => {
    const srv = await server();
    srv.script.push({ delayMs: 220 }); // REP is serial: the resend is answered right after
    const c = await client(srv.endpoint);
    expect(texts(await c.request(['slow']))).toEqual(['slow']);
    expect(c.stats).toMatchObject({ retries: 1, timeouts: 0, replies: 1 });
  });

  it('gives up after `retries` resends (retries + 1 sends) with TimeoutError naming the options', async () => {
    const srv = await server();
    srv.fallback = 'drop';
    const c = await client(srv.endpoint, { retries: 2 });
    const err = await c.request(['x']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).code).toBe('ERR_TIMEOUT');
    expect((err as TimeoutError).attempts).toBe(3);
    expect((err as Error).message).toMatch(/no reply after 3 attempts of 150 ms \(retries: 2\)/);
    expect(srv.received).toHaveLength(3);
    expect(c.stats.retries).toBe(2);
    expect(c.stats.timeouts).toBe(1);
  });

  it('with retries 0 sends once and never resends; the default is two resends', async () => {
    const srv = await server();
    srv.fallback = 'drop';
    const once = await client(srv.endpoint, { retries: 0 });
    const err = await once.request(['x']).catch((e: unknown) => e);
    expect((err as TimeoutError).attempts).toBe(1);
    expect(srv.received).toHaveLength(1);
    expect(once.stats.retries).toBe(0);
    const perCall = await once.request(['y'], { retries: 1 }).catch((e: unknown) => e);
    expect((perCall as TimeoutError).attempts).toBe(2);
    expect(srv.received).toHaveLength(3);
    expect(lazyPirateClientDefaults.retries).toBe(2);
  });

  it('survives a server crash and restart between attempts', async () => {
    const srv = await server();
    const c = await client(srv.endpoint, { attemptTimeoutMs: 200, retries: 4 });
    expect(texts(await c.request(['before']))).toEqual(['before']);
    await srv.crash();
    const pending = c.request(['during']);
    await new Promise((r) => setTimeout(r, 250)); // at least one attempt into the void
    await srv.restart();
    expect(texts(await pending)).toEqual(['during']);
    expect(c.stats).toMatchObject({ timeouts: 0, replies: 2 });
    expect(c.stats.retries).toBeGreaterThanOrEqual(1);
  });

  it('with no server at all, gives up after (retries + 1) x timeout', async () => {
    const c = await client('tcp://127.0.0.1:1', { attemptTimeoutMs: 50, retries: 1 });
    const started = Date.now();
    await expect(c.request(['x'])).rejects.toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
  });

  it('fails over to the next server in the list after a timeout, and stays there', async () => {
    const dead = await server();
    dead.fallback = 'drop';
    const live = await server();
    const c = await client([dead.endpoint, live.endpoint]);
    expect(texts(await c.request(['a']))).toEqual(['a']);
    expect(texts(await c.request(['b']))).toEqual(['b']);
    expect(dead.received).toHaveLength(1);
    expect(live.received.map(texts)).toEqual([['a'], ['b']]);
    expect(c.server).toBe(live.endpoint);
  });

  it('sequenceCheck sends lpclient\'s exact frames ("1", "2", ...) and accepts only the echo', async () => {
    const srv = await server();
    const c = await client(srv.endpoint, { sequenceCheck: true });
    expect(await c.request([])).toEqual([]);
    expect(texts(await c.request(['body']))).toEqual(['body']);
    expect(srv.received.map(texts)).toEqual([['1'], ['2', 'body']]);
    // A server that answers with the wrong sequence: malformed, resent, then given up.
    srv.fallback = { reply: [s('999')] };
    await expect(c.request([])).rejects.toBeInstanceOf(TimeoutError);
    expect(c.stats.malformed).toBe(3);
    expect(srv.received.slice(2).map(texts)).toEqual([['3'], ['3'], ['3']]);
  });

  it('aborts with AbortError and a fresh socket serves the next request', async () => {
    const srv = await server();
    srv.script.push('drop');
    const c = await client(srv.endpoint, { attemptTimeoutMs: 5000 });
    const controller = new AbortController();
    const pending = c.request(['x'], { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user')), 50);
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(((err as Error).cause as Error).message).toBe('user');
    expect(texts(await c.request(['y']))).toEqual(['y']);
    expect(c.stats.sockets).toBe(2);
  });

  it('serialises concurrent requests in call order (one outstanding, REQ semantics)', async () => {
    const srv = await server();
    const c = await client(srv.endpoint);
    const replies = await Promise.all([1, 2, 3, 4, 5].map((n) => c.request([String(n)])));
    expect(replies.map((r) => r[0]?.toString())).toEqual(['1', '2', '3', '4', '5']);
    expect(srv.received.map((r) => r[0]?.toString())).toEqual(['1', '2', '3', '4', '5']);
  });

  it('close() rejects the request in flight and later ones with ClosedError', async () => {
    const srv = await server();
    srv.fallback = 'drop';
    const c = await client(srv.endpoint, { attemptTimeoutMs: 5000 });
    const pending = c.request(['x']);
    const queued = c.request(['y']);
    await new Promise((r) => setTimeout(r, 50));
    await c.close();
    await expect(pending).rejects.toBeInstanceOf(ClosedError);
    await expect(queued).rejects.toBeInstanceOf(ClosedError);
    await expect(c.request(['z'])).rejects.toBeInstanceOf(ClosedError);
    await c.close(); // idempotent
  });

  it('rejects bad options with InvalidArgumentError', async () => {
    const servers = 'tcp://127.0.0.1:1';
    expect(() => new LazyPirateClient({ servers: [] })).toThrow(InvalidArgumentError);
    expect(() => new LazyPirateClient({ servers, retries: -1 })).toThrow(InvalidArgumentError);
    expect(() => new LazyPirateClient({ servers, retries: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => new LazyPirateClient({ servers, attemptTimeoutMs: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(() => new LazyPirateClient({ servers, timeoutMs: 0 })).toThrow(InvalidArgumentError);
    const c = await client('tcp://127.0.0.1:1');
    await expect(c.request(['x'], { retries: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('timeoutMs bounds the whole request, every attempt included, with TimeoutError (ERR_TIMEOUT)', async () => {
    const srv = await server();
    srv.fallback = 'drop';
    const c = await client(srv.endpoint, { attemptTimeoutMs: 60_000, retries: 5, timeoutMs: 150 });
    const started = Date.now();
    const err = await c.request(['x']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'ERR_TIMEOUT', name: 'TimeoutError', attempts: 1 });
    expect((err as Error).message).toMatch(/timeoutMs/);
    // At timeoutMs (150), not at the attempt's 60 s: the margin is for a loaded machine's timers.
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(145);
    expect(elapsed).toBeLessThan(150 + 1000);
    // Per call, too: the client's bound is overridden.
    await expect(c.request(['y'], { timeoutMs: 100 })).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    expect(c.stats.timeouts).toBe(2);
  });

  it('a request whose timeoutMs runs out while it waits for its turn ends in TimeoutError with 0 attempts', async () => {
    const srv = await server();
    srv.fallback = 'drop';
    const c = await client(srv.endpoint, { attemptTimeoutMs: 5000, retries: 0 });
    const first = c.request(['first']).catch((e: unknown) => e);
    await eventually(() => c.waiting);
    await expect(c.request(['second'], { timeoutMs: 100 })).rejects.toMatchObject({
      code: 'ERR_TIMEOUT',
      attempts: 0,
    });
    expect(c.stats).toMatchObject({ requests: 1, timeouts: 1 });
    await c.close();
    expect(await first).toBeInstanceOf(ClosedError);
    expect(srv.received.map(texts)).toEqual([['first']]);
  });

  it('stats is a snapshot: a copy read earlier keeps its figures', async () => {
    const srv = await server();
    const c = await client(srv.endpoint);
    const before = c.stats;
    await c.request(['x']);
    expect(before.requests).toBe(0);
    expect(c.stats.requests).toBe(1);
    expect(c.stats).not.toBe(c.stats);
  });

  it('request() before start() rejects with NotStartedError and opens nothing', async () => {
    const c = new LazyPirateClient({ servers: 'tcp://127.0.0.1:1' });
    cleanup.push(() => c.close());
    await expect(c.request(['x'])).rejects.toBeInstanceOf(NotStartedError);
    expect(c.stats.sockets).toBe(0);
  });

  it('status(): connected once a server answers, disconnected when it falls silent, reconnecting and failover between', async () => {
    const dead = await server();
    dead.fallback = 'drop';
    const live = await server();
    const c = new LazyPirateClient({ servers: [dead.endpoint, live.endpoint], attemptTimeoutMs: 150 });
    cleanup.push(() => c.close());
    const status = c.status();
    await c.start();
    await c.request(['a']); // the dead server never answers (no event of its own); the live one does
    live.fallback = 'drop';
    await expect(c.request(['b'])).rejects.toMatchObject({ code: 'ERR_TIMEOUT', attempts: 3 });
    await c.close();
    const events = [];
    for await (const event of status) events.push(event);
    expect(events).toEqual([
      { type: 'started' },
      { type: 'failover', from: dead.endpoint, to: live.endpoint },
      { type: 'reconnecting', peer: live.endpoint, attempt: 1, delayMs: 0 },
      { type: 'connected', peer: live.endpoint, session: 2 },
      // the live server that answered falls silent for a whole attempt: it is lost
      { type: 'disconnected', peer: live.endpoint, reason: 'silent', silentMs: 150, session: 2 },
      { type: 'failover', from: live.endpoint, to: dead.endpoint },
      { type: 'reconnecting', peer: dead.endpoint, attempt: 1, delayMs: 0 },
      { type: 'failover', from: dead.endpoint, to: live.endpoint },
      { type: 'reconnecting', peer: live.endpoint, attempt: 2, delayMs: 0 },
      { type: 'failover', from: live.endpoint, to: dead.endpoint },
      { type: 'closed' },
    ]);
    expect(c.stats).toMatchObject({ failovers: 4, timeouts: 1, retries: 3, sockets: 4 });
  });

  it('status(): your own abort and a whole-call timeoutMs discard the socket without a disconnected event', async () => {
    const srv = await server();
    const c = await client(srv.endpoint, { attemptTimeoutMs: 5000 });
    await c.request(['hello']);
    const status = c.status();
    srv.fallback = 'drop';
    const controller = new AbortController();
    const aborted = c.request(['x'], { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(aborted).rejects.toBeInstanceOf(AbortError);
    await expect(c.request(['y'], { timeoutMs: 100 })).rejects.toMatchObject({ code: 'ERR_TIMEOUT', attempts: 1 });
    await c.close();
    const events = [];
    for await (const event of status) events.push(event);
    expect(events).toEqual([{ type: 'closed' }]);
    expect(c.stats).toMatchObject({ sockets: 2, timeouts: 1 }); // both discarded; the next request opens the third
  });

  it('fails over at exactly attemptTimeoutMs (ManualClock), through the server rotation, wrapping round', async () => {
    const clock = new ManualClock();
    const servers = ['tcp://127.0.0.1:1', 'tcp://127.0.0.1:2'];
    const c = await client(servers, { attemptTimeoutMs: 1000, retries: 2, clock });
    const pending = c.request(['x']).catch((e: unknown) => e);
    await eventually(() => c.waiting);
    clock.advance(999);
    await new Promise((r) => setImmediate(r));
    expect(c.server).toBe(servers[0]);
    clock.advance(1);
    await eventually(() => c.server === servers[1]);
    clock.advance(1000);
    await eventually(() => c.server === servers[0]);
    clock.advance(1000);
    expect(await pending).toMatchObject({ code: 'ERR_TIMEOUT', attempts: 3 });
    expect(c.stats).toMatchObject({ retries: 2, timeouts: 1, failovers: 3, sockets: 3 }); // the last one is not replaced
  });
});
