/**
 * mdbroker's metrics and health over real HTTP while traffic flows:
 *
 *   test ──GET /metrics, /healthz──▶ mdbroker --metrics-port 0 ◀──MDP── client + echo worker (here)
 */
import { MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, Daemon } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
}

describe('mdbroker --metrics-port', () => {
  it('serves counters that move, gauges, per-service series and /healthz', async () => {
    await using daemon = await Daemon.start({
      bin: appBin('mdbroker'),
      args: ['--bind', 'tcp://127.0.0.1:*', '--heartbeat-ms', '200', '--metrics-port', '0'],
    });
    const url = daemon.ready['metrics'] as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const endpoint = (daemon.ready['endpoints'] as string[])[0] ?? '';
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    await using worker = new MajordomoWorker({
      broker: endpoint,
      service: 'echo',
      heartbeatIntervalMs: 200,
      handler: (request) => request,
    });
    await worker.start();
    await using client = await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 5000, retries: 0 });
    await client.request('echo', 'one');
    const before = await (await fetch(`${url}/metrics`)).text();
    for (let i = 0; i < 5; i++) await client.request('echo', `x${i}`);
    const after = await (await fetch(`${url}/metrics`)).text();

    expect(value(after, 'zpatterns_broker_replies_total') - value(before, 'zpatterns_broker_replies_total')).toBe(5);
    expect(value(after, 'zpatterns_broker_service_requests_total{service="echo"}')).toBe(6);
    expect(value(after, 'zpatterns_broker_request_duration_seconds_count{service="echo"}')).toBe(6);
    expect(value(after, 'zpatterns_broker_request_duration_seconds_bucket{le="+Inf",service="echo"}')).toBe(6);
    expect(value(after, 'zpatterns_broker_request_duration_seconds_bucket{le="30",service="echo"}')).toBe(6);
    expect(value(after, 'zpatterns_broker_request_duration_seconds_sum{service="echo"}')).toBeGreaterThan(0);
    expect(after).toContain('# TYPE zpatterns_broker_request_duration_seconds histogram');
    expect(value(after, 'zpatterns_broker_workers')).toBe(1);
    expect(value(after, 'zpatterns_broker_queued_bytes')).toBe(0);
    expect(after).toContain('zpatterns_process_cpu_seconds_total');
    expect(after).toContain('zpatterns_broker_refused_total 0');
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  });
});
