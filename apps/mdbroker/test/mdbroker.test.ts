/**
 * The built `mdbroker` daemon as a real process: flags (exit 2 on bad ones), the ready line, clean
 * SIGTERM, 10k random malformed messages, and kill -9 + restart with our client and worker.
 *
 *   client ──▶ mdbroker (child process) ──▶ worker       kill -9 mdbroker, restart on the same port:
 *                                                        the worker re-registers, the client retries
 */
import { MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, Daemon, eventually, rawDealer, randomMessage, runCli, seededRandom } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const bin = (): string => appBin('mdbroker');

function startBroker(args: readonly string[] = []): Promise<Daemon> {
  return Daemon.start({ bin: bin(), args: ['--bind', 'tcp://127.0.0.1:*', ...args] });
}

function endpointsOf(daemon: Daemon): string[] {
  return daemon.ready['endpoints'] as string[];
}

/** One MDP/0.1 round trip with raw DEALERs (no library code on the peer side). */
async function rawRoundTrip(endpoint: string, service: string, text: string): Promise<string[]> {
  await using worker = rawDealer(endpoint);
  await using client = rawDealer(endpoint);
  await worker.send([b(''), b('MDPW01'), Buffer.from([1]), b(service)]);
  await client.send([b(''), b('MDPC01'), b(service), b(text)]);
  const request = await worker.receiveMatching((m) => m[2]?.[0] === 2, 10_000);
  await worker.send([b(''), b('MDPW01'), Buffer.from([3]), request[3] as Buffer, b(''), ...request.slice(5)]);
  return (await client.receive(10_000)).map((f) => f.toString('latin1'));
}

describe('mdbroker flags', () => {
  it.each([
    [['--bogus'], /unknown option '--bogus'/],
    [['--liveness', '0'], /--liveness/],
    [['--heartbeat-ms', 'fast'], /whole number/],
    [['--bind', 'nonsense'], /endpoint/],
    [['--idempotent', 'mmi.service'], /reserved/],
  ])('%j -> exit 2 with one line on stderr', async (args, message) => {
    const result = await runCli(bin(), args);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^mdbroker: /);
    expect(lines[0]).toMatch(message);
  });

  it('--help lists every flag with its default, exit 0', async () => {
    const result = await runCli(bin(), ['--help']);
    expect(result.code).toBe(0);
    for (const flag of [
      '--bind',
      '--heartbeat-ms',
      '--liveness',
      '--request-ttl-ms',
      '--max-queued-bytes',
      '--idempotent',
    ]) {
      expect(result.stdout).toContain(flag);
    }
    expect(result.stdout).toContain('2500');
  });
});

describe('mdbroker process', () => {
  it('prints one ready line naming every bound endpoint, serves, and exits 0 on SIGTERM', async () => {
    await using daemon = await startBroker(['--bind', 'tcp://127.0.0.1:*', '--heartbeat-ms', '200']);
    const endpoints = endpointsOf(daemon);
    expect(endpoints).toHaveLength(2);
    for (const endpoint of endpoints) expect(endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(daemon.ready).toMatchObject({ heartbeatMs: 200, liveness: 3 });
    expect(daemon.logs.filter((l) => l.msg === 'ready')).toHaveLength(1);
    expect(await rawRoundTrip(endpoints[1] as string, 'echo', 'hi')).toEqual(['', 'MDPC01', 'echo', 'hi']);
    const status = await daemon.stop();
    expect(status).toEqual({ code: 0, signal: null });
    expect(daemon.logs.map((l) => l.msg)).toContain('stopped');
  });

  it('exits 1 with one line on stderr when an endpoint cannot be bound (address in use)', async () => {
    await using first = await startBroker();
    const taken = endpointsOf(first)[0] as string;
    const result = await runCli(bin(), ['--bind', taken]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`mdbroker: cannot bind ${taken}: address in use (ERR_BIND)\n`);
    expect(result.stdout).toBe('');
  });

  it('SIGINT also stops it cleanly', async () => {
    // Signalled the moment the ready line appears: runDaemon's handlers are installed before start().
    const daemon = await startBroker();
    expect(await daemon.kill('SIGINT')).toEqual({ code: 0, signal: null });
  });

  it('10k random malformed messages leave it serving; the counts show in its stats line', async () => {
    await using daemon = await startBroker(['--heartbeat-ms', '100', '--stats-interval-ms', '100']);
    const endpoint = endpointsOf(daemon)[0] as string;
    const vocabulary = [b(''), b('MDPC01'), b('MDPW01'), b('MDPC02'), b('MDPW02'), b('echo'), b('mmi.service')];
    for (let n = 1; n <= 6; n++) vocabulary.push(Buffer.from([n]));
    const random = seededRandom(42);
    const peers = Array.from({ length: 4 }, () => rawDealer(endpoint));
    try {
      for (let i = 0; i < 10_000; i++) {
        const message = randomMessage(random, vocabulary);
        if (message.length === 0) message.push(b(''));
        await (peers[i % peers.length] as (typeof peers)[number]).send(message);
      }
      expect(await rawRoundTrip(endpoint, 'after-fuzz', 'alive')).toEqual(['', 'MDPC01', 'after-fuzz', 'alive']);
      // Keep the fuzzing sockets open (linger 0 would discard what they still hold) until the
      // broker has read all 10k (plus the round trip's READY, request and REPLY).
      const statsOf = (line: Record<string, unknown>): Record<string, number> =>
        (line['stats'] ?? {}) as Record<string, number>;
      const line = await daemon.waitForLog(
        (l) => l.msg === 'broker stats' && (statsOf(l)['received'] ?? 0) >= 10_003,
        20_000,
        true,
      );
      expect(statsOf(line)['malformed']).toBeGreaterThan(5000);
    } finally {
      await Promise.all(peers.map((p) => p.close()));
    }
    expect(daemon.running).toBe(true);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    // Warnings are rate-limited: a few lines per second, not one per malformed message.
    expect(daemon.logs.filter((l) => l.level === 40).length).toBeLessThan(1000);
  }, 60_000);

  it('kill -9 and restart on the same port: the worker re-registers and the client succeeds', async () => {
    await using daemon = await startBroker(['--heartbeat-ms', '100']);
    const endpoint = endpointsOf(daemon)[0] as string;
    const worker = new MajordomoWorker({
      broker: endpoint,
      service: 'echo',
      heartbeatIntervalMs: 100,
      reconnectDelay: () => 100,
      handler: (request) => request,
    });
    await worker.start();
    const serving = worker.closed();
    const client = await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 500, retries: 20 });
    try {
      expect((await client.request('echo', ['before'])).map((f) => f.toString())).toEqual(['before']);
      await daemon.kill('SIGKILL');
      await daemon.restart(['--bind', endpoint, '--heartbeat-ms', '100']);
      expect(endpointsOf(daemon)).toEqual([endpoint]);
      expect((await client.request('echo', ['after'])).map((f) => f.toString())).toEqual(['after']);
      await eventually(() => daemon.logs.some((l) => l.msg === 'worker ready' && l['service'] === 'echo'));
    } finally {
      await client.close();
      await worker.close();
      await serving;
    }
  }, 60_000);
});
