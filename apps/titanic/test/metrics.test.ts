/**
 * titanic and ppqueue metrics over real HTTP: the ready line names the bound metrics URL, a
 * titanic.request moves the counters, and pending/done requests are reported.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MajordomoClient } from '@zpatterns/majordomo';
import { appBin, Daemon } from '@zpatterns/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const dataDir = mkdtempSync(join(tmpdir(), 'titanic-metrics-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const scrape = async (url: string): Promise<string> => (await fetch(`${url}/metrics`)).text();

describe('--metrics-port 0', () => {
  it('titanic --with-broker: submissions counted, pending requests gauged, /healthz 200', async () => {
    await using titanic = await Daemon.start({
      bin: appBin('titanic'),
      args: ['--with-broker', '--broker', 'tcp://127.0.0.1:*', '--data-dir', dataDir, '--metrics-port', '0'],
    });
    const url = titanic.ready['metrics'] as string;
    const broker = titanic.ready['broker'] as string;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    await using client = await MajordomoClient.start({ broker, attemptTimeoutMs: 5000, retries: 0 });
    const reply = await client.request('titanic.request', ['nobody', 'hello']);
    expect(reply[0]?.toString()).toBe('200');
    const text = await scrape(url);
    expect(text).toContain('zpatterns_titanic_submitted_total 1');
    expect(text).toContain('zpatterns_titanic_requests{state="pending"} 1');
    expect(text).toMatch(/zpatterns_titanic_store_commits_total [1-9]/);
    // The commit-latency histogram: one observation per group commit (fsync included).
    expect(text).toMatch(/zpatterns_titanic_store_commit_seconds_count\{result="ok"\} [1-9]/);
    expect(text).toMatch(/zpatterns_titanic_store_commit_seconds_bucket\{le="\+Inf",result="ok"\} [1-9]/);
    expect(text).toContain('zpatterns_titanic_refused_total 0');
    expect(text).toMatch(/zpatterns_broker_requests_total [1-9]/);
    expect(await titanic.stop()).toEqual({ code: 0, signal: null });
  });

  it('ppqueue: stats as counters, /healthz 200', async () => {
    await using queue = await Daemon.start({
      bin: appBin('ppqueue'),
      args: ['--frontend', 'tcp://127.0.0.1:*', '--backend', 'tcp://127.0.0.1:*', '--metrics-port', '0'],
    });
    const url = queue.ready['metrics'] as string;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(await scrape(url)).toMatch(/^zpatterns_ppqueue_\w+_total \d+$/m);
  });
});
