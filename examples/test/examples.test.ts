/**
 * Each example runs as a real process (its built dist) against real daemons on ephemeral ports.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CloneClient } from '@zpatterns/clone';
import { MajordomoClient } from '@zpatterns/majordomo';
import {
  appBin,
  curveFixture,
  Daemon,
  onFreePortRange,
  runCli,
  useDisposables,
  type LogLine,
} from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

const { track, defer } = useDisposables();
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const example = (name: string): string => join(root, 'dist', `${name}.js`);

describe('md-worker: a Majordomo worker with CURVE, metrics and a graceful drain', () => {
  it('answers through a CURVE broker, counts in /metrics, and on SIGTERM finishes the request in hand', async () => {
    const keys = curveFixture(['broker', 'worker', 'client'], ['worker', 'client']);
    const broker = track(
      await Daemon.start({
        bin: appBin('mdbroker'),
        args: [
          '--bind',
          'tcp://127.0.0.1:*',
          '--curve-secret-key-file',
          keys.peers['broker']?.keyFile ?? '',
          '--allow-keys',
          keys.allowDir,
        ],
      }),
    );
    const endpoint = (broker.ready['endpoints'] as string[])[0] ?? '';
    const worker = track(
      await Daemon.start({
        bin: example('md-worker'),
        args: [
          '--broker',
          endpoint,
          '--service',
          'upper',
          '--work-ms',
          '1000',
          '--curve-secret-key-file',
          keys.peers['worker']?.keyFile ?? '',
          '--curve-server-key',
          keys.peers['broker']?.pubFile ?? '',
          '--metrics-port',
          '0',
          '--log-level',
          'debug',
        ],
      }),
    );
    expect(worker.ready).toMatchObject({ service: 'upper', curve: true });
    const client = track(
      await MajordomoClient.start({
        broker: endpoint,
        security: keys.client('client', 'broker'),
        attemptTimeoutMs: 10_000,
      }),
    );
    expect((await client.request('upper', ['hello'])).map(String)).toEqual(['HELLO']);

    const metrics = await fetch(`${String(worker.ready['metrics'])}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^example_requests_total 1$/m);
    expect(metrics).toMatch(/^example_request_duration_seconds_count 1$/m);

    // SIGTERM while a request is in hand: it is still answered, then the worker exits 0.
    const inHand = worker.waitForLog((l: LogLine) => l.msg === 'request');
    const reply = client.request('upper', ['drain me']);
    await inHand;
    worker.signal('SIGTERM');
    expect((await reply).map(String)).toEqual(['DRAIN ME']);
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(worker.logs.map((l) => l.msg)).toContain('stopped');
    expect(worker.text).toEqual([]);
  }, 60_000);
});

describe('titanic-client: submit, go away, collect later', () => {
  it('collects the reply of a request submitted before any worker existed, then closes it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'titanic-example-'));
    defer(() => rmSync(dataDir, { recursive: true, force: true }));
    const titanic = track(
      await Daemon.start({
        bin: appBin('titanic'),
        args: ['--with-broker', '--broker', 'tcp://127.0.0.1:*', '--data-dir', dataDir],
      }),
    );
    const broker = String(titanic.ready['broker']);
    const client = example('titanic-client');

    const submitted = await runCli(client, ['submit', '--broker', broker, '--service', 'shout', 'hello', 'world']);
    expect(submitted.stderr).toBe('');
    expect(submitted.code).toBe(0);
    const { uuid } = JSON.parse(submitted.stdout) as { uuid: string };
    expect(uuid).toMatch(/^[0-9A-F]{32}$/);

    // The service comes up only now (the md-worker example, upper-casing).
    track(await Daemon.start({ bin: example('md-worker'), args: ['--broker', broker, '--service', 'shout'] }));
    const collected = await runCli(client, ['collect', '--broker', broker, uuid], { timeoutMs: 60_000 });
    expect(collected.stderr).toBe('');
    expect(collected.code).toBe(0);
    expect(JSON.parse(collected.stdout)).toEqual({ uuid, reply: ['HELLO', 'WORLD'] });

    // Collected means closed: Titanic no longer knows it.
    const again = await runCli(client, ['collect', '--broker', broker, uuid]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^titanic-client: /);

    const bad = await runCli(client, ['collect']);
    expect(bad.code).toBe(2);
  }, 90_000);
});

describe('config-watcher: follows a Clone subtree', () => {
  it('prints the snapshot, then every change under its prefix and nothing else', async () => {
    const server = track(
      await onFreePortRange(3, (port) =>
        Daemon.start({ bin: appBin('clonesrv'), args: ['--port', String(port), '--hugz-ms', '200'] }),
      ),
    );
    const address = String(server.ready['snapshot']);
    const writer = track(new CloneClient({ servers: [address] }));
    await writer.start();
    await writer.commit('/config/mode', 'fast');
    await writer.commit('/other/x', '1');

    const watcher = track(
      await Daemon.start({
        bin: example('config-watcher'),
        args: ['--server', address, '--prefix', '/config/'],
        isReady: (l) => 'snapshot' in l,
      }),
    );
    expect(watcher.ready['snapshot']).toEqual({ '/config/mode': 'fast' });

    const changed = watcher.waitForLog((l) => l['key'] === '/config/limit' && l['value'] === '10');
    await writer.commit('/other/y', '2');
    await writer.commit('/config/limit', '10');
    await changed;
    const deleted = watcher.waitForLog((l) => l['key'] === '/config/mode' && l['value'] === null);
    writer.delete('/config/mode');
    await deleted;
    expect(watcher.logs.filter((l) => String(l['key']).startsWith('/other/'))).toEqual([]);

    watcher.signal('SIGTERM');
    expect(await watcher.exited).toEqual({ code: 0, signal: null });
    expect(watcher.text).toEqual([]);
  }, 60_000);
});

describe('freelance-client: three servers, no broker', () => {
  it('answers every request from three servers, and still answers every one with a server killed', async () => {
    const servers: Daemon[] = [];
    for (let i = 0; i < 3; i++) {
      servers.push(track(await Daemon.start({ bin: appBin('flserver'), args: ['--bind', 'tcp://127.0.0.1:*'] })));
    }
    const endpoints = servers.map((s) => String(s.ready['endpoint']));
    const run = (list: string[]): ReturnType<typeof runCli> =>
      runCli(example('freelance-client'), ['--servers', list.join(','), '--count', '30'], { timeoutMs: 60_000 });

    const first = await run(endpoints);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const lines = first.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.slice(0, 30)).toEqual(Array.from({ length: 30 }, (_, n) => ({ n, reply: `request-${n}` })));
    const summary = lines[30] as { failed: number; answered: Record<string, number> };
    expect(summary.failed).toBe(0);
    // Which servers answered depends on which had answered a ping yet; all of them are listed.
    expect(Object.keys(summary.answered).sort()).toEqual([...endpoints].sort());
    expect(Object.values(summary.answered).reduce((a, b) => a + b, 0)).toBe(30);

    // One server dead (SIGKILL): every request is still answered, by the other two.
    await servers[1]?.kill('SIGKILL');
    const second = await run(endpoints);
    expect(second.code).toBe(0);
    const after = JSON.parse(second.stdout.trim().split('\n').at(-1) ?? '{}') as typeof summary;
    expect(after.failed).toBe(0);
    expect((after.answered[endpoints[0] ?? ''] ?? 0) + (after.answered[endpoints[2] ?? ''] ?? 0)).toBe(30);

    const bad = await runCli(example('freelance-client'), ['--strategy', 'nope']);
    expect(bad.code).toBe(2);
  }, 90_000);
});
