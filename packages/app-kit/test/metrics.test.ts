/**
 * The metrics server over real HTTP on an ephemeral port: /metrics in the Prometheus text format,
 * /healthz following the daemon's health (503 once it is closing), label values bounded.
 */
import { pino } from 'pino';
import { expectClosesOnce } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';
import { boundedLabels, createRegistry, MetricsServer, statsCounters } from '../src/index.js';

describe('MetricsServer', () => {
  it('serves stats as _total counters and turns /healthz to 503 when closing', async () => {
    const registry = createRegistry();
    const stats = { requests: 0, expiredRequests: 0 };
    statsCounters(registry, 'toy', () => stats);
    let healthy = true;
    const server = await MetricsServer.start({
      port: 0,
      host: '127.0.0.1',
      registry,
      healthy: () => healthy,
      logger: pino({ level: 'silent' }),
    });
    try {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      stats.requests = 7;
      const text = await (await fetch(`${server.url}/metrics`)).text();
      expect(text).toContain('zpatterns_toy_requests_total 7');
      expect(text).toContain('zpatterns_toy_expired_requests_total 0');
      healthy = false;
      expect((await fetch(`${server.url}/healthz`)).status).toBe(503);
      expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('drain() turns /healthz to 503 for good, whatever healthy() says; close() is idempotent', async () => {
    const server = await MetricsServer.start({
      port: 0,
      host: '127.0.0.1',
      registry: createRegistry(),
      healthy: () => true,
      logger: pino({ level: 'silent' }),
      shutdownDelayMs: 1234,
    });
    expect(server.shutdownDelayMs).toBe(1234);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    server.drain();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(503);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
    await Promise.all([server.close(), server.close()]);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });

  it('has the shape of every long-lived object: nothing bound before start(), one close', async () => {
    const server = new MetricsServer({
      port: 0,
      host: '127.0.0.1',
      registry: createRegistry(),
      healthy: () => true,
      logger: pino({ level: 'silent' }),
    });
    expect(() => server.url).toThrow(expect.objectContaining({ code: 'ERR_NOT_STARTED' }));
    await server.start();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    await expectClosesOnce(server);
    expect(() => new MetricsServer({ ...metricsOptions(), port: 70_000 })).toThrow(/port must be/);
  });

  it('keeps the first N label values and folds the rest into _other', () => {
    const label = boundedLabels(2);
    expect(['a', 'b', 'c', 'a', 'd'].map(label)).toEqual(['a', 'b', '_other', 'a', '_other']);
  });
});

function metricsOptions() {
  return {
    port: 0,
    host: '127.0.0.1',
    registry: createRegistry(),
    healthy: () => true,
    logger: pino({ level: 'silent' }),
  };
}
