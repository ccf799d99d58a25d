/**
 * bstarsrv's and flserver's metrics and health over real HTTP while requests flow:
 *
 *   test ──GET /metrics, /healthz──▶ daemon --metrics-port 0 ◀── requests (here)
 */
import { describe, expect, it } from 'vitest';
import { BinaryStarClient } from '@zpatterns/bstar';
import { FreelanceClient } from '@zpatterns/freelance';
import { appBin, Daemon, ipcEndpoint } from '@zpatterns/testkit';

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
}

const scrape = async (url: string): Promise<string> => (await fetch(`${url}/metrics`)).text();

describe('--metrics-port on the Binary Star and Freelance servers', () => {
  it('bstarsrv: vote counters move, the active gauge is 1, /healthz is 200', async () => {
    const frontend = ipcEndpoint('bstar-metrics');
    await using daemon = await Daemon.start({
      bin: appBin('bstarsrv'),
      args: [
        '--ha',
        'primary',
        '--frontend',
        frontend,
        '--state-bind',
        ipcEndpoint('bstar-metrics-s'),
        '--state-connect',
        ipcEndpoint('bstar-metrics-peer'),
        '--ha-heartbeat-ms',
        '100',
        '--metrics-port',
        '0',
      ],
    });
    const url = daemon.ready['metrics'] as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    await using client = await BinaryStarClient.start({ servers: [frontend], attemptTimeoutMs: 300, retries: 30 });
    await client.request(['first']); // the vote that makes the lone primary active
    const before = await scrape(url);
    for (let i = 0; i < 5; i++) await client.request([`x${i}`]);
    const after = await scrape(url);
    expect(value(after, 'zpatterns_bstar_accepted_total') - value(before, 'zpatterns_bstar_accepted_total')).toBe(5);
    expect(value(after, 'zpatterns_bstar_active')).toBe(1);
    expect(value(after, 'zpatterns_bstar_published_total')).toBeGreaterThan(0);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  });

  it('flserver: request counters move, /healthz is 200', async () => {
    await using daemon = await Daemon.start({
      bin: appBin('flserver'),
      args: ['--bind', 'tcp://127.0.0.1:*', '--metrics-port', '0'],
    });
    const url = daemon.ready['metrics'] as string;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const endpoint = daemon.ready['endpoint'] as string;
    await using client = await FreelanceClient.start({ servers: [endpoint] });
    await client.request(['first']);
    const before = await scrape(url);
    for (let i = 0; i < 5; i++) await client.request([`x${i}`]);
    const after = await scrape(url);
    const replies = 'zpatterns_freelance_server_replies_total';
    expect(value(after, replies) - value(before, replies)).toBe(5);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  });
});
