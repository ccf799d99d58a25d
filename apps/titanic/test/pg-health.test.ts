/**
 * titanic on PostgreSQL while the database goes away and comes back (real processes, real HTTP):
 *
 *   MajordomoClient ──titanic.request──> titanic --with-broker --store postgres://... ──> PostgreSQL
 *   fetch ──/healthz, /metrics──────────────────┘                              (halted, resumed)
 *
 * - /healthz is 200, then 503 while the database is down, then 200 again without a restart;
 * - a submission while the database is down is answered "500", never a false "200";
 * - the commit-latency histogram and the refused-submission counter (--max-backlog) are scraped.
 */
import { MajordomoClient } from '@zpatterns/majordomo';
import { appBin, Daemon, usePostgres } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

const postgres = usePostgres();
const available = postgres.available;

const health = async (url: string): Promise<number> => (await fetch(`${url}/healthz`)).status;
const scrape = async (url: string): Promise<string> => (await fetch(`${url}/metrics`)).text();

describe.skipIf(!available)('titanic --store postgres:// while the database restarts', () => {
  it('/healthz 503 while the database is down, "500" for submissions, back without a restart; metrics', async () => {
    const db = postgres.cluster();
    await using titanic = await Daemon.start({
      bin: appBin('titanic'),
      args: [
        '--with-broker',
        '--broker',
        'tcp://127.0.0.1:*',
        '--store',
        db.url,
        '--lease-ms',
        '3000',
        '--claim-interval-ms',
        '100',
        '--max-backlog',
        '3',
        '--metrics-port',
        '0',
      ],
    });
    const url = titanic.ready['metrics'] as string;
    const broker = titanic.ready['broker'] as string;
    expect(titanic.ready['store']).toBe(db.url);
    expect(typeof titanic.ready['instance']).toBe('string');
    // The durability of a "200", as the sessions see it.
    expect(titanic.ready['synchronousCommit']).toBe('on');
    expect(titanic.ready['fsync']).toBe('off'); // the test cluster runs without fsync
    await using client = await MajordomoClient.start({ broker, attemptTimeoutMs: 10_000, retries: 0 });
    const submit = async (): Promise<string> =>
      (await client.request('titanic.request', ['nobody', 'hello']))[0]?.toString() ?? '';

    expect(await health(url)).toBe(200);
    expect(await submit()).toBe('200');

    await db.halt();
    const haltedAt = Date.now();
    await expect.poll(() => health(url), { timeout: 10_000, interval: 50 }).toBe(503);
    // "At once" (docs/titanic.md): the next claim round (every 100 ms here) meets the refused
    // connection; 1 s allows for scheduling on a loaded machine.
    const unhealthyAfterMs = Date.now() - haltedAt;
    expect(unhealthyAfterMs).toBeLessThanOrEqual(1000);
    expect(await submit()).toBe('500');
    expect(await scrape(url)).toMatch(/zpatterns_titanic_internal_errors_total [1-9]/);

    await db.resume();
    await expect.poll(() => health(url), { timeout: 15_000, interval: 50 }).toBe(200);
    expect(await submit()).toBe('200');

    // The backlog bound: 'nobody' has no worker, so every stored request stays pending.
    const answers: string[] = [];
    for (let i = 0; i < 10 && answers.at(-1) !== '500'; i++) answers.push(await submit());
    expect(answers.at(-1)).toBe('500');
    expect(answers.filter((a) => a === '200').length).toBeLessThanOrEqual(2);
    const text = await scrape(url);
    expect(text).toContain('zpatterns_titanic_refused_total 1');
    expect(text).toMatch(/zpatterns_titanic_store_commit_seconds_count\{result="ok"\} [1-9]/);
    expect(text).toMatch(/zpatterns_titanic_store_commit_seconds_count\{result="error"\} [1-9]/);
    expect(text).toMatch(/zpatterns_titanic_store_commit_seconds_bucket\{le="0.005",result="ok"\} \d+/);
    expect(text).toMatch(/zpatterns_titanic_requests\{state="pending"\} [2-9]/);
    expect(await titanic.stop()).toEqual({ code: 0, signal: null });
  }, 60_000);
});
