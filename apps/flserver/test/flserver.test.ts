/**
 * flserver and `zpat flcall` as real processes, with FreelanceClient agents in the test process:
 *
 *   FreelanceClient(s) / zpat flcall --ROUTER--> flserver A, flserver B, flserver C (3 processes)
 *
 * Servers are SIGKILLed mid-run and restarted on the same endpoint (their routing id); a client
 * starts while its first server is down; garbage (zeromq frames and raw TCP bytes) is thrown at one.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FreelanceClient, type FreelanceClientOptions, type FreelanceClientStatus } from '@zpatterns/freelance';
import { PING } from '@zpatterns/freelance/protocol';
import { appBin, Daemon, eventually, rawDealer, randomMessage, runCli, seededRandom } from '@zpatterns/testkit';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

async function startServer(bind = 'tcp://127.0.0.1:*'): Promise<Daemon> {
  const server = await Daemon.start({ bin: appBin('flserver'), args: ['--bind', bind] });
  cleanup.push(() => server.stop());
  return server;
}

const endpointOf = (server: Daemon): string => server.ready['endpoint'] as string;

async function threeServers(): Promise<{ servers: Daemon[]; endpoints: string[] }> {
  const servers = await Promise.all([startServer(), startServer(), startServer()]);
  return { servers, endpoints: servers.map(endpointOf) };
}

async function client(servers: string[], options: Partial<FreelanceClientOptions> = {}): Promise<FreelanceClient> {
  const c = new FreelanceClient({
    servers,
    heartbeatIntervalMs: 200,
    peerTtlMs: 3000,
    connectPingMs: 50,
    attemptTimeoutMs: 1000,
    timeoutMs: 15_000,
    retries: 10,
    ...options,
  });
  cleanup.push(() => c.close());
  await c.start();
  return c;
}

/** `total` requests, `window` in flight; every reply must be the request's own body. */
async function run(
  c: FreelanceClient,
  total: number,
  window = 10,
  tag = 'r',
  onReply?: (answered: number) => Promise<void> | void,
): Promise<number> {
  let next = 0;
  let answered = 0;
  const lane = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      const body = [`${tag}-${i}`, String(i * 7)];
      expect((await c.request(body)).map(String)).toEqual(body);
      answered++;
      await onReply?.(answered);
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  return answered;
}

describe('flserver', () => {
  it('--help works and bad flags exit 2 (flserver and zpat flcall)', async () => {
    const help = await runCli(appBin('flserver'), ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--bind <endpoint>');
    const flHelp = await runCli(appBin('zpat'), ['flcall', '--help']);
    expect(flHelp.code).toBe(0);
    expect(flHelp.stdout).toContain('--server <endpoint>');
    expect((await runCli(appBin('flserver'), ['--bind', 'nonsense'])).code).toBe(2);
    expect((await runCli(appBin('zpat'), ['flcall', '--servers', 'tcp://x'])).code).toBe(2);
    expect((await runCli(appBin('zpat'), ['flcall', 'x'])).code).toBe(2);
  });

  it('300 requests, 10 in flight: all to the first server (priority), spread over all three (round-robin)', async () => {
    const { endpoints } = await threeServers();
    const priority = await client(endpoints);
    await eventually(() => priority.servers.every((s) => s.alive));
    expect(await run(priority, 300)).toBe(300);
    expect(priority.servers.map((s) => s.replies)).toEqual([300, 0, 0]);

    const rr = await client(endpoints, { strategy: 'round-robin' });
    await eventually(() => rr.servers.every((s) => s.alive));
    expect(await run(rr, 300)).toBe(300);
    expect(rr.servers.map((s) => s.replies).every((n) => n >= 50)).toBe(true);
    expect(rr.stats).toMatchObject({ replies: 300, timeouts: 0 });
  });

  it('SIGKILL a server mid-run: every request is answered; restarted on its endpoint, it is used again', async () => {
    const { servers, endpoints } = await threeServers();
    const [, victim] = servers;
    if (victim === undefined) throw new Error('no server');
    const c = await client(endpoints, { strategy: 'round-robin' });
    await eventually(() => c.servers.every((s) => s.alive));
    const events: FreelanceClientStatus[] = [];
    const feed = c.status();
    const reading = (async () => {
      for await (const event of feed)
        if (event.type === 'connected' || event.type === 'disconnected') events.push(event);
    })();
    let killed: Promise<unknown> | undefined;
    const answered = await run(c, 300, 10, 'kill', (n) => {
      if (n === 100) killed = victim.kill('SIGKILL');
    });
    await killed;
    expect(answered).toBe(300);
    expect(c.stats.timeouts).toBe(0);
    await eventually(() => c.servers[1]?.alive === false);

    await victim.restart(['--bind', endpoints[1] as string]);
    expect(endpointOf(victim)).toBe(endpoints[1]);
    await eventually(() => c.servers[1]?.alive === true);
    const before = c.servers[1]?.replies ?? 0;
    expect(await run(c, 60, 10, 'back')).toBe(60);
    expect((c.servers[1]?.replies ?? 0) - before).toBeGreaterThanOrEqual(10);
    // The status feed told the story: the victim was lost once and came back once; the others never changed.
    await c.close();
    await reading;
    expect(events.map((e) => e.type)).toEqual(['disconnected', 'connected']);
    expect(events.map((e) => e.peer)).toEqual([endpoints[1], endpoints[1]]);
    expect(events[0]).toMatchObject({ reason: 'silent' });
  });

  it('priority: the first server killed mid-run, the rest go to the second, and back to the first when it returns', async () => {
    const { servers, endpoints } = await threeServers();
    const [first] = servers;
    if (first === undefined) throw new Error('no server');
    const c = await client(endpoints);
    await eventually(() => c.servers.every((s) => s.alive));
    let killed: Promise<unknown> | undefined;
    expect(
      await run(c, 200, 10, 'p', (n) => {
        if (n === 50) killed = first.kill('SIGKILL');
      }),
    ).toBe(200);
    await killed;
    expect(c.servers[1]?.replies).toBeGreaterThan(0);
    expect(c.servers[2]?.replies).toBe(0);
    await first.restart(['--bind', endpoints[0] as string]);
    await eventually(() => c.servers[0]?.alive === true);
    const before = c.servers.map((s) => s.replies);
    await run(c, 30, 5, 'again');
    expect(c.servers.map((s, i) => s.replies - (before[i] ?? 0))).toEqual([30, 0, 0]);
  });

  it('three clients at once each get exactly their own replies', async () => {
    const { endpoints } = await threeServers();
    const clients = await Promise.all([
      client(endpoints),
      client(endpoints, { strategy: 'round-robin' }),
      client([...endpoints].reverse(), { strategy: 'all' }),
    ]);
    const results = await Promise.all(clients.map((c, i) => run(c, 200, 10, `client${i}`)));
    expect(results).toEqual([200, 200, 200]);
    for (const c of clients) expect(c.stats.replies).toBe(200);
  });

  it('a client started while its first server is down never waits on it', async () => {
    const { servers, endpoints } = await threeServers();
    await servers[0]?.kill('SIGKILL');
    const c = await client(endpoints);
    expect(await run(c, 100, 10)).toBe(100);
    // Nothing was ever sent to the dead server, nothing was resent, nothing timed out.
    // (Requests made before any PONG go to the first server that answers, B or C.)
    const sent = c.servers.map((s) => s.sent);
    expect(sent[0]).toBe(0);
    expect((sent[1] ?? 0) + (sent[2] ?? 0)).toBe(100);
    expect(c.stats).toMatchObject({ retries: 0, timeouts: 0 });
    expect(c.servers[0]?.state).toBe('connecting');
  });

  it('10,000 random multipart messages and raw TCP junk: the server stays up and answers', async () => {
    const server = await startServer();
    const endpoint = endpointOf(server);
    const dealer = rawDealer(endpoint);
    cleanup.push(() => dealer.close());
    const random = seededRandom(10);
    for (let i = 0; i < 10_000; i++) {
      const message = randomMessage(random, [PING, Buffer.from('1')]);
      await dealer.send(message.length === 0 ? [Buffer.alloc(0)] : message);
    }
    const [, port] = /:(\d+)$/.exec(endpoint) ?? [];
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          const junk = Buffer.alloc(4096);
          for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(random() * 256);
          if (i === 0) junk.write('\xffjunk', 'latin1');
          socket.write(junk, () => socket.destroy());
        });
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
      });
    }
    await dealer.send(['final', 'alive?']);
    expect((await dealer.receiveMatching((m) => String(m[0]) === 'final', 15_000)).map(String)).toEqual([
      'final',
      'alive?',
    ]);
    const c = await client([endpoint]);
    expect((await c.request(['ok'])).map(String)).toEqual(['ok']);
    expect(server.running).toBe(true);
  });

  it('zpat flcall: one request prints the reply; --count prints a summary; no server exits 1', async () => {
    const { endpoints } = await threeServers();
    const servers = endpoints.join(',');
    const one = await runCli(appBin('zpat'), ['flcall', '--server', servers, 'hello', 'world']);
    expect(one).toMatchObject({ code: 0, stdout: 'hello\nworld\n' });
    const many = await runCli(appBin('zpat'), [
      'flcall',
      '--servers',
      servers,
      '--count',
      '90',
      '--strategy',
      'round-robin',
      'x',
    ]);
    expect(many.code).toBe(0);
    expect(many.stdout).toMatch(/^90 requests: 90 answered, 0 failed/);
    const nowhere = await runCli(appBin('zpat'), [
      'flcall',
      '--servers',
      'tcp://127.0.0.1:1',
      '--timeout-ms',
      '300',
      'x',
    ]);
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toMatch(
      /^zpat flcall: nothing listens at tcp:\/\/127\.0\.0\.1:1 \(connection refused within --timeout-ms 300\)/,
    );
  });
});
