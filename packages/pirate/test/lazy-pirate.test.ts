/**
 * Lazy Pirate on real sockets against a REP server that drops, delays and crashes:
 *
 *   LazyPirateClient (REQ) --- request ---> FakeRepServer (REP)
 *        timeout? close REQ, new REQ (next server), resend; give up after `retries` resends
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AbortError, ClosedError, InvalidArgumentError } from '@zpatterns/core';
import { LazyPirateClient, lazyPirateClientDefaults, NoReplyError } from '@zpatterns/pirate';
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

function client(servers: string | string[], options: ConstructorParameters<typeof LazyPirateClient>[1] = {}) {
  const c = new LazyPirateClient(servers, { timeoutMs: 150, retries: 2, ...options });
  cleanup.push(() => c.close());
  return c;
}

describe('LazyPirateClient', () => {
  it('sends the caller frames and returns the reply frames', async () => {
    const srv = await server();
    const c = client(srv.endpoint);
    expect(texts(await c.request(['hello', s('world')]))).toEqual(['hello', 'world']);
    expect(texts(srv.received[0] ?? [])).toEqual(['hello', 'world']);
    expect(c.stats).toMatchObject({ requests: 1, replies: 1, resends: 0, sockets: 1 });
  });

  it('resends on a new socket when the server drops requests, then succeeds', async () => {
    const srv = await server();
    srv.script.push('drop', 'drop');
    const c = client(srv.endpoint);
    expect(texts(await c.request(['x']))).toEqual(['x']);
    expect(srv.received.map(texts)).toEqual([['x'], ['x'], ['x']]);
    expect(c.stats).toMatchObject({ resends: 2, timeouts: 2, sockets: 3, replies: 1 });
  });

  it('a late reply counts as a timeout and the resend is answered', async () => {
    const srv = await server();
    srv.script.push({ delayMs: 220 }); // REP is serial: the resend is answered right after
    const c = client(srv.endpoint);
    expect(texts(await c.request(['slow']))).toEqual(['slow']);
    expect(c.stats.timeouts).toBe(1);
  });

  it('gives up after `retries` resends (retries + 1 sends) with NoReplyError naming the options', async () => {
    const srv = await server();
    srv.fallback = 'drop';
    const c = client(srv.endpoint, { retries: 2 });
    const err = await c.request(['x']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoReplyError);
    expect((err as NoReplyError).code).toBe('ERR_PIRATE_NO_REPLY');
    expect((err as NoReplyError).attempts).toBe(3);
    expect((err as Error).message).toMatch(/retries.*timeoutMs/);
    expect(srv.received).toHaveLength(3);
    expect(c.stats.resends).toBe(2);
    expect(c.stats.failures).toBe(1);
  });

  it('with retries 0 sends once and never resends; the default is two resends', async () => {
    const srv = await server();
    srv.fallback = 'drop';
    const once = client(srv.endpoint, { retries: 0 });
    const err = await once.request(['x']).catch((e: unknown) => e);
    expect((err as NoReplyError).attempts).toBe(1);
    expect(srv.received).toHaveLength(1);
    expect(once.stats.resends).toBe(0);
    const perCall = await once.request(['y'], { retries: 1 }).catch((e: unknown) => e);
    expect((perCall as NoReplyError).attempts).toBe(2);
    expect(srv.received).toHaveLength(3);
    expect(lazyPirateClientDefaults.retries).toBe(2);
  });

  it('survives a server crash and restart between attempts', async () => {
    const srv = await server();
    const c = client(srv.endpoint, { timeoutMs: 200, retries: 4 });
    expect(texts(await c.request(['before']))).toEqual(['before']);
    await srv.crash();
    const pending = c.request(['during']);
    await new Promise((r) => setTimeout(r, 250)); // at least one attempt into the void
    await srv.restart();
    expect(texts(await pending)).toEqual(['during']);
    expect(c.stats.timeouts).toBeGreaterThanOrEqual(1);
  });

  it('with no server at all, gives up after (retries + 1) x timeout', async () => {
    const c = client('tcp://127.0.0.1:1', { timeoutMs: 50, retries: 1 });
    const started = Date.now();
    await expect(c.request(['x'])).rejects.toBeInstanceOf(NoReplyError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
  });

  it('fails over to the next server in the list after a timeout, and stays there', async () => {
    const dead = await server();
    dead.fallback = 'drop';
    const live = await server();
    const c = client([dead.endpoint, live.endpoint]);
    expect(texts(await c.request(['a']))).toEqual(['a']);
    expect(texts(await c.request(['b']))).toEqual(['b']);
    expect(dead.received).toHaveLength(1);
    expect(live.received.map(texts)).toEqual([['a'], ['b']]);
    expect(c.server).toBe(live.endpoint);
  });

  it('sequenceCheck sends lpclient\'s exact frames ("1", "2", ...) and accepts only the echo', async () => {
    const srv = await server();
    const c = client(srv.endpoint, { sequenceCheck: true });
    expect(await c.request([])).toEqual([]);
    expect(texts(await c.request(['body']))).toEqual(['body']);
    expect(srv.received.map(texts)).toEqual([['1'], ['2', 'body']]);
    // A server that answers with the wrong sequence: malformed, resent, then given up.
    srv.fallback = { reply: [s('999')] };
    await expect(c.request([])).rejects.toBeInstanceOf(NoReplyError);
    expect(c.stats.malformedReplies).toBe(3);
    expect(srv.received.slice(2).map(texts)).toEqual([['3'], ['3'], ['3']]);
  });

  it('aborts with AbortError and a fresh socket serves the next request', async () => {
    const srv = await server();
    srv.script.push('drop');
    const c = client(srv.endpoint, { timeoutMs: 5000 });
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
    const c = client(srv.endpoint);
    const replies = await Promise.all([1, 2, 3, 4, 5].map((n) => c.request([String(n)])));
    expect(replies.map((r) => r[0]?.toString())).toEqual(['1', '2', '3', '4', '5']);
    expect(srv.received.map((r) => r[0]?.toString())).toEqual(['1', '2', '3', '4', '5']);
  });

  it('close() rejects the request in flight and later ones with ClosedError', async () => {
    const srv = await server();
    srv.fallback = 'drop';
    const c = client(srv.endpoint, { timeoutMs: 5000 });
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
    expect(() => new LazyPirateClient([])).toThrow(InvalidArgumentError);
    expect(() => new LazyPirateClient('tcp://127.0.0.1:1', { retries: -1 })).toThrow(InvalidArgumentError);
    expect(() => new LazyPirateClient('tcp://127.0.0.1:1', { retries: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => new LazyPirateClient('tcp://127.0.0.1:1', { timeoutMs: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    const c = client('tcp://127.0.0.1:1');
    await expect(c.request(['x'], { retries: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
