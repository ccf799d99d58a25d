/**
 * startTcpProxy: bytes flow through it; a black hole holds them (the connection stays open, no
 * byte, FIN or RST reaches either side) and delivers them in order when healed; cut resets; delay
 * adds latency; one connection can be broken alone; a zeromq link survives a black hole intact.
 */
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { eventually, startTcpProxy, useDisposables } from '../src/index.js';

const { track, defer } = useDisposables();

/** A TCP echo server on loopback that records how many connections it accepted. */
async function echoServer(): Promise<{ port: number; accepted: () => number }> {
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    accepted += 1;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  defer(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return { port: (server.address() as AddressInfo).port, accepted: () => accepted };
}

/** A client socket that collects what it reads and how it ended. */
async function client(port: number) {
  const socket = createConnection({ host: '127.0.0.1', port });
  const got: Buffer[] = [];
  let error: NodeJS.ErrnoException | undefined;
  let ended = false;
  socket.on('data', (b: Buffer) => got.push(b));
  socket.on('error', (err) => (error = err));
  socket.on('end', () => (ended = true));
  defer(() => socket.destroy());
  await once(socket, 'connect');
  return {
    socket,
    text: () => Buffer.concat(got).toString(),
    error: () => error,
    ended: () => ended,
  };
}

/** Wait `ms` of real time: only to show that nothing happens in it. */
const quietFor = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('startTcpProxy', () => {
  it('forwards both ways and counts the bytes', async () => {
    const echo = await echoServer();
    const proxy = track(await startTcpProxy({ target: `tcp://127.0.0.1:${echo.port}` }));
    expect(proxy.endpoint).toBe(`tcp://127.0.0.1:${proxy.port}`);
    const c = await client(proxy.port);
    c.socket.write('hello');
    await eventually(() => c.text() === 'hello');
    expect(proxy.stats).toMatchObject({ accepted: 1, active: 1, bytesUp: 5, bytesDown: 5 });
    expect(proxy.mode).toBe('forward');
  });

  it('black-holes without closing, then delivers what it held, in order', async () => {
    const echo = await echoServer();
    const proxy = track(await startTcpProxy({ target: { host: '127.0.0.1', port: echo.port } }));
    const c = await client(proxy.port);
    c.socket.write('a');
    await eventually(() => c.text() === 'a');
    proxy.blackhole();
    for (const part of ['b', 'c', 'd']) c.socket.write(part);
    await quietFor(300);
    expect(c.text()).toBe('a');
    expect(c.ended()).toBe(false);
    expect(c.error()).toBeUndefined();
    expect(proxy.connections.map((x) => x.mode)).toEqual(['blackhole']);
    proxy.forward();
    await eventually(() => c.text() === 'abcd');
    expect(c.error()).toBeUndefined();
  });

  it('black-holes one way: the held direction waits, the other flows', async () => {
    const received: Buffer[] = [];
    const accepted: Socket[] = [];
    const server: Server = createServer((s) => {
      accepted.push(s);
      s.on('error', () => undefined);
      s.on('data', (b: Buffer) => received.push(b));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    defer(async () => {
      for (const s of accepted) s.destroy();
      await new Promise((r) => server.close(r));
    });
    const proxy = track(await startTcpProxy({ target: `tcp://127.0.0.1:${(server.address() as AddressInfo).port}` }));
    const c = await client(proxy.port);
    await eventually(() => accepted.length === 1);
    const upstream = accepted[0];
    if (upstream === undefined) throw new Error('no upstream connection');
    const serverGot = () => Buffer.concat(received).toString();

    proxy.blackhole('down');
    expect(proxy.direction).toBe('down');
    c.socket.write('to-server');
    upstream.write('to-client');
    await eventually(() => serverGot() === 'to-server');
    await quietFor(300);
    expect(c.text()).toBe('');

    proxy.blackhole('up');
    await eventually(() => c.text() === 'to-client');
    c.socket.write('|held');
    await quietFor(300);
    expect(serverGot()).toBe('to-server');

    proxy.forward();
    await eventually(() => serverGot() === 'to-server|held');
    expect(c.error()).toBeUndefined();
  });

  it('holds a connection opened during a black hole and connects it to the target when healed', async () => {
    const echo = await echoServer();
    const proxy = track(await startTcpProxy({ target: `tcp://127.0.0.1:${echo.port}`, mode: 'blackhole' }));
    const c = await client(proxy.port);
    c.socket.write('early');
    await quietFor(200);
    expect(echo.accepted()).toBe(0);
    proxy.forward();
    await eventually(() => c.text() === 'early');
    expect(echo.accepted()).toBe(1);
  });

  it('cut resets open connections and new ones until forward()', async () => {
    const echo = await echoServer();
    const proxy = track(await startTcpProxy({ target: `tcp://127.0.0.1:${echo.port}` }));
    const c = await client(proxy.port);
    c.socket.write('x');
    await eventually(() => c.text() === 'x');
    proxy.cut();
    await eventually(() => c.error()?.code === 'ECONNRESET');
    const refused = createConnection({ host: '127.0.0.1', port: proxy.port });
    defer(() => refused.destroy());
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNRESET');
    await eventually(() => proxy.stats.active === 0);
    proxy.forward();
    const again = await client(proxy.port);
    again.socket.write('y');
    await eventually(() => again.text() === 'y');
  });

  it('delay adds at least the given latency and keeps order', async () => {
    const echo = await echoServer();
    const proxy = track(await startTcpProxy({ target: `tcp://127.0.0.1:${echo.port}` }));
    const c = await client(proxy.port);
    proxy.delay(150);
    const sent = Date.now();
    c.socket.write('1');
    c.socket.write('2');
    await eventually(() => c.text() === '12');
    // 150 ms each way: a lower bound, which a loaded machine cannot break.
    expect(Date.now() - sent).toBeGreaterThanOrEqual(300);
  });

  it('breaks one connection alone', async () => {
    const echo = await echoServer();
    const proxy = track(await startTcpProxy({ target: `tcp://127.0.0.1:${echo.port}` }));
    const first = await client(proxy.port);
    const second = await client(proxy.port);
    await eventually(() => proxy.connections.length === 2);
    const [one] = proxy.connections;
    one?.blackhole();
    first.socket.write('held');
    second.socket.write('free');
    await eventually(() => second.text() === 'free');
    expect(first.text()).toBe('');
    one?.forward();
    await eventually(() => first.text() === 'held');
  });

  it('a zeromq connection survives a black hole with every message intact', async () => {
    const router = new zmq.Router({ linger: 0 });
    await router.bind('tcp://127.0.0.1:*');
    const proxy = track(await startTcpProxy({ target: router.lastEndpoint ?? '' }));
    const dealer = new zmq.Dealer({ linger: 0 });
    defer(() => dealer.close());
    dealer.connect(proxy.endpoint);
    const received: string[] = [];
    const loop = (async () => {
      for await (const [, body] of router) received.push(String(body));
    })();
    defer(async () => {
      router.close();
      await loop;
    });
    await dealer.send('m0');
    await eventually(() => received.length === 1);
    proxy.blackhole();
    for (let i = 1; i <= 100; i++) await dealer.send(`m${i}`);
    await quietFor(300);
    expect(received).toHaveLength(1);
    proxy.forward();
    await eventually(() => received.length === 101);
    expect(received).toEqual(Array.from({ length: 101 }, (_, i) => `m${i}`));
  });
});
