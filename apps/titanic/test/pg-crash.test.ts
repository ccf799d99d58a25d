/**
 * The fault run: two Titanic instances on one PostgreSQL database, real processes, with chaos:
 *
 *   test client ──submit/poll──> mdbroker (process) <──> titanic A (process) ──┐
 *                                      ^           <──> titanic B (process) ──┴──> TCP proxy ──> PostgreSQL
 *                                      └── echo workers (here: each dispatch recorded with its time)
 *
 * 100 requests for a service that has no worker ("nobody"), then 2,000 echo submissions through
 * `titanic.request` (the broker spreads them over both instances); meanwhile titanic A is
 * SIGKILLed twice (and restarted each time), the database link is black-holed for 10 s (both
 * instances' /healthz must turn 503, then 200 again after the heal), and PostgreSQL crashes once
 * (`-m immediate`, crash recovery). Then:
 * - every UUID acknowledged with "200" yields exactly its own reply (the echo of its unique body);
 * - no request was dispatched twice within its timeout: a body reaches an echo worker a second
 *   time only at least `--dispatch-timeout-ms` after the first time, and only after a chaos event in between;
 * - the dead service's requests are all still pending and were never sent: once both instances
 *   have stopped, a worker for it that registers gets nothing the broker queued for it (the broker
 *   keeps requests for 10 minutes here), only the test's own marker request.
 *
 * A PostgreSQL cluster of its own (the test crashes it), on a unix socket in a temp dir.
 */
import { constantBackoff } from '@zpatterns/core';
import { MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { join } from 'node:path';
import { appBin, Daemon, eventually, startTcpProxy, usePostgres } from '@zpatterns/testkit';
import { TitanicClient } from '@zpatterns/titanic';
import { describe, expect, it } from 'vitest';

const HEARTBEAT_MS = 100;
const LEASE_MS = 3000;
const TOTAL = 2000;
const SUBMITTERS = 32;
const TIMEOUT_MS = 1000;
const DEAD = 100;
const BLACKHOLE_MS = 10_000;

// Skip where the run has no PostgreSQL at all (a developer machine without it); never under CI.
const postgres = usePostgres();
const available = postgres.available;

function titanicArgs(broker: string, url: string): string[] {
  return [
    '--broker',
    broker,
    '--store',
    url,
    '--lease-ms',
    String(LEASE_MS),
    '--claim-interval-ms',
    '200',
    '--heartbeat-ms',
    String(HEARTBEAT_MS),
    '--dispatch-timeout-ms',
    String(TIMEOUT_MS),
    '--retry-max-ms',
    '500',
    '--request-workers',
    '8',
    '--reply-workers',
    '4',
    '--metrics-port',
    '0',
    '--log-level',
    'info',
  ];
}

const health = async (daemon: Daemon): Promise<number> =>
  (await fetch(`${daemon.ready['metrics'] as string}/healthz`)).status;

describe.skipIf(!available)('titanic on PostgreSQL, two instances (real processes)', () => {
  it('every acknowledged request yields its reply, none runs twice within its timeout, across SIGKILLs, a black-holed database and a database crash', async () => {
    const db = postgres.cluster();
    await using proxy = await startTcpProxy({ target: { path: join(db.dir, '.s.PGSQL.5432') } });
    const storeUrl = `postgres://postgres@127.0.0.1:${proxy.port}/postgres`;
    await using broker = await Daemon.start({
      bin: appBin('mdbroker'),
      args: [
        '--bind',
        'tcp://127.0.0.1:*',
        '--heartbeat-ms',
        String(HEARTBEAT_MS),
        // Nothing sent to the dead service may expire unseen before the check at the end.
        '--request-ttl-ms',
        '600000',
        '--log-level',
        'info',
      ],
    });
    const endpoint = (broker.ready['endpoints'] as string[])[0] as string;
    await using a = await Daemon.start({ bin: appBin('titanic'), args: titanicArgs(endpoint, storeUrl) });
    await using b = await Daemon.start({ bin: appBin('titanic'), args: titanicArgs(endpoint, storeUrl) });

    // Every dispatch that reaches a worker, by body: the times it arrived.
    const dispatches = new Map<string, number[]>();
    const echoes = Array.from(
      { length: 2 },
      () =>
        new MajordomoWorker({
          broker: endpoint,
          service: 'echo',
          heartbeatIntervalMs: HEARTBEAT_MS,
          reconnectDelay: constantBackoff(100),
          handler: (body) => {
            const key = body[0]?.toString() ?? '';
            const times = dispatches.get(key);
            if (times === undefined) dispatches.set(key, [Date.now()]);
            else times.push(Date.now());
            return body;
          },
        }),
    );
    await Promise.all(echoes.map((echo) => echo.start()));
    const served = echoes.map((echo) => echo.closed());
    const client = await TitanicClient.start({ broker: endpoint, attemptTimeoutMs: 1000, retries: 0, maxSockets: 64 });
    // When each chaos event happened (an instance death, the database going down).
    const chaosAt: number[] = [];

    try {
      const dead = await Promise.all(Array.from({ length: DEAD }, (_, i) => client.submit('nobody', [`dead-${i}`])));
      const acknowledged = new Map<string, string>(); // uuid -> body
      let next = 0;
      let failedSubmits = 0;
      const submitter = async (): Promise<void> => {
        for (let i = next++; i < TOTAL; i = next++) {
          for (let attempt = 0; ; attempt++) {
            // A fresh body per attempt: an unacknowledged submission may still be stored and run.
            const body = `request-${i}-${attempt}-${Math.random().toString(36).slice(2)}`;
            try {
              acknowledged.set(await client.submit('echo', [body]), body);
              break;
            } catch {
              failedSubmits++;
              await new Promise((resolve) => setTimeout(resolve, 20));
            }
          }
        }
      };

      const waitFor = async (count: number): Promise<void> => {
        while (acknowledged.size < count) await new Promise((resolve) => setTimeout(resolve, 5));
      };
      const healthTimes: string[] = [];
      const chaos = async (): Promise<void> => {
        await waitFor(400);
        chaosAt.push(Date.now());
        expect((await a.kill('SIGKILL')).signal).toBe('SIGKILL');
        await a.restart();
        await waitFor(800);
        // The database link black-holed: both instances notice, then recover when it heals.
        chaosAt.push(Date.now());
        const cutAt = Date.now();
        proxy.blackhole();
        await Promise.all(
          [a, b].map((d) =>
            eventually(async () => (await health(d)) === 503, { timeoutMs: BLACKHOLE_MS, intervalMs: 50, what: '503' }),
          ),
        );
        healthTimes.push(`503 on both after ${Date.now() - cutAt} ms`);
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, cutAt + BLACKHOLE_MS - Date.now())));
        proxy.forward();
        const healAt = Date.now();
        await Promise.all(
          [a, b].map((d) =>
            eventually(async () => (await health(d)) === 200, { timeoutMs: 30_000, intervalMs: 50, what: '200' }),
          ),
        );
        healthTimes.push(`200 on both ${Date.now() - healAt} ms after the heal`);
        await waitFor(1200);
        chaosAt.push(Date.now());
        await db.crash();
        await waitFor(1600);
        chaosAt.push(Date.now());
        expect((await a.kill('SIGKILL')).signal).toBe('SIGKILL');
        await a.restart();
      };

      await Promise.all([...Array.from({ length: SUBMITTERS }, submitter), chaos()]);
      expect(chaosAt).toHaveLength(4);
      expect(acknowledged.size).toBeGreaterThanOrEqual(TOTAL);

      // --- Every acknowledged UUID yields exactly its reply ---------------------------------------
      const entries = [...acknowledged];
      let index = 0;
      const mismatches: string[] = [];
      const fetcher = async (): Promise<void> => {
        for (let i = index++; i < entries.length; i = index++) {
          const [uuid, body] = entries[i] as [string, string];
          const reply = await client.waitReply(uuid, { timeoutMs: 30_000, pollIntervalMs: 50, maxPollIntervalMs: 250 });
          if (reply.length !== 1 || reply[0]?.toString() !== body) mismatches.push(uuid);
        }
      };
      await Promise.all(Array.from({ length: SUBMITTERS }, fetcher));
      expect(mismatches).toEqual([]);

      // --- No second dispatch while a lease held ----------------------------------------------------
      const violations: string[] = [];
      let repeated = 0;
      for (const [body, times] of dispatches) {
        for (let i = 1; i < times.length; i++) {
          repeated++;
          const first = times[i - 1] as number;
          const again = times[i] as number;
          // (A request sent just before its instance died may reach the worker just after.)
          const afterChaos = chaosAt.some((t) => t >= first - 1000 && t <= again);
          if (again - first < TIMEOUT_MS || !afterChaos) violations.push(`${body}: +${again - first} ms`);
        }
      }
      expect(violations).toEqual([]);

      // The dead service's requests are all still pending.
      const deadStates = await Promise.all(dead.map(async (uuid) => (await client.poll(uuid)).status));
      expect(deadStates.every((state) => state === 'pending')).toBe(true);

      // titanic.reply and titanic.close work on any instance (the broker spreads the calls).
      await Promise.all(entries.slice(0, 100).map(([uuid]) => client.closeRequest(uuid)));
      expect((await client.poll((entries[0] as [string, string])[0])).status).toBe('unknown');
      for (const d of [a, b]) expect(d.logs.filter((l) => (l.level ?? 0) >= 60)).toEqual([]);
      // Instance B, never killed, took its share of the dispatching.
      expect(await b.stop()).toEqual({ code: 0, signal: null });
      const final = b.logs.find((l) => l.msg === 'stopped') as { stats: { dispatch: { replies: number } } };
      expect(final.stats.dispatch.replies).toBeGreaterThan(0);

      // None of the dead service's requests was ever sent: with both instances stopped, a worker
      // for it gets from the broker's queue (FIFO) nothing before the test's own marker.
      expect(await a.stop()).toEqual({ code: 0, signal: null });
      const nobodyGot: string[] = [];
      await using _nobody = await MajordomoWorker.start({
        broker: endpoint,
        service: 'nobody',
        heartbeatIntervalMs: HEARTBEAT_MS,
        handler: (body) => {
          nobodyGot.push(body[0]?.toString() ?? '');
          return body;
        },
      });
      await using marker = await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 10_000, retries: 0 });
      expect((await marker.request('nobody', ['marker']))[0]?.toString()).toBe('marker');
      expect(nobodyGot).toEqual(['marker']);
      console.info(
        `titanic pg crash test: ${acknowledged.size} acknowledged, ${failedSubmits} failed submits retried, ${dispatches.size} bodies dispatched, ${repeated} repeated dispatches (all after a lease expiry); black hole: ${healthTimes.join(', ')}`,
      );
    } finally {
      await client.close();
      await Promise.all(echoes.map((echo) => echo.close()));
      await Promise.all(served);
    }
  }, 170_000);
});
