/**
 * The HTTP gateway example as a real process (its built dist), in front of a broker and two
 * workers in this process: one that echoes, one that never answers. Real HTTP requests (fetch).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Broker, MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { Daemon, useDisposables } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

const { track, defer } = useDisposables();
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const gatewayBin = join(root, 'dist', 'http-gateway.js');

describe('http-gateway: an HTTP endpoint that calls a Majordomo service with a timeout', () => {
  it('answers 200 with the reply, 504 when the worker never answers, 503 for an unknown service; exits 0 on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'http-gateway-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    const endpoint = `ipc://${join(dir, 'broker')}`;
    track(await Broker.start({ bind: endpoint }));
    track(
      await MajordomoWorker.start({
        broker: endpoint,
        service: 'echo',
        handler: (body) => body,
      }),
    );
    // Never answers: the handler waits until the request is abandoned, which close() does at
    // once (no drain: there is nothing to finish).
    let stalled = 0;
    track(
      await MajordomoWorker.start({
        broker: endpoint,
        service: 'stall',
        drainTimeoutMs: 0,
        handler: (_body, { signal }) => {
          stalled += 1;
          return new Promise<Buffer[]>((_resolve, reject) =>
            signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }),
          );
        },
      }),
    );
    // Both services have their worker before the gateway is asked (MMI answers 200 for each).
    const probe = track(await MajordomoClient.start({ broker: endpoint }));
    for (const service of ['echo', 'stall']) {
      await expect.poll(() => probe.serviceStatus(service, { timeoutMs: 5000 }), { timeout: 10_000 }).toBe('200');
    }

    const gateway = track(
      await Daemon.start({
        bin: gatewayBin,
        args: ['--broker', endpoint, '--port', '0', '--timeout-ms', '1000'],
      }),
    );
    const url = String(gateway.ready['url']);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const ok = await fetch(`${url}/echo?text=${encodeURIComponent('hello, world')}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('hello, world\n');

    const started = Date.now();
    const slow = await fetch(`${url}/stall?text=x`);
    expect(slow.status).toBe(504);
    expect(await slow.text()).toBe('no reply from stall within 1000 ms\n');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(stalled).toBeGreaterThanOrEqual(1);

    const unknown = await fetch(`${url}/nobody?text=x`);
    expect(unknown.status).toBe(503);
    expect((await fetch(`${url}/echo`)).status).toBe(400);
    expect((await fetch(`${url}/mmi.service?text=echo`)).status).toBe(404);

    gateway.signal('SIGTERM');
    expect(await gateway.exited).toEqual({ code: 0, signal: null });
    expect(gateway.logs.map((l) => l.msg)).toContain('stopped');
    expect(gateway.text).toEqual([]);
  }, 60_000);
});
