/**
 * titanic on PostgreSQL when the database stops answering without closing anything (real
 * processes, a TCP proxy in between):
 *
 *   TitanicClient ──> titanic --with-broker (process) ──TCP──> proxy ──unix socket──> PostgreSQL
 *   fetch /healthz ──────┘                                      (forward, black hole, forward)
 *
 * The proxy black-holes the link: no byte moves, no RST, no FIN, as in a network partition or a
 * failover of the database host. Eight requests acknowledged before the cut are in flight at their
 * workers when it happens (each worker holds its request until the cut), so their replies come
 * back during the outage. Within the connect timeout plus the query timeout (5 s each, the bound
 * docs/titanic.md states), /healthz turns 503 and a new submission is answered "500" (never a
 * false "200"); within 15 s of the heal (an attempt left hanging on the dead link runs out those
 * 10 s, the next comes within the 5 s backoff cap) /healthz is 200 again, without a restart, and
 * every request acknowledged before the outage is answered with its own reply. Each bound is
 * asserted with 1 s for scheduling on a loaded machine.
 */
import { join } from 'node:path';
import { constantBackoff } from '@zpatterns/core';
import { MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, Daemon, eventually, startTcpProxy, usePostgres } from '@zpatterns/testkit';
import { TitanicClient } from '@zpatterns/titanic';
import { describe, expect, it } from 'vitest';

const HEARTBEAT_MS = 100;
/** Requests in flight at their workers when the link is cut. */
const IN_FLIGHT = 8;
/** Connect timeout plus query timeout: the longest a query can hang on a silent link. */
const OUTAGE_NOTICED_MS = 5000 + 5000;
/** The longest pause between two attempts to reach the database (backoff cap; jitter only shortens it). */
const RETRY_MAX_MS = 5000;
/** Room for timers and processes on a loaded 2-core machine. */
const SCHEDULING_MS = 1000;
const postgres = usePostgres();
const available = postgres.available;

const health = async (url: string): Promise<number> => (await fetch(`${url}/healthz`)).status;

describe.skipIf(!available)('titanic --store postgres:// behind a black-holed link (real processes)', () => {
  it('/healthz 503 and "500" for submissions within seconds, back on heal with nothing acknowledged lost', async () => {
    const db = postgres.cluster();
    await using proxy = await startTcpProxy({ target: { path: join(db.dir, '.s.PGSQL.5432') } });
    await using titanic = await Daemon.start({
      bin: appBin('titanic'),
      args: [
        '--with-broker',
        '--broker',
        'tcp://127.0.0.1:*',
        '--store',
        `postgres://postgres@127.0.0.1:${proxy.port}/postgres`,
        '--heartbeat-ms',
        String(HEARTBEAT_MS),
        '--lease-ms',
        '3000',
        '--claim-interval-ms',
        '200',
        '--metrics-port',
        '0',
        '--log-level',
        'info',
      ],
    });
    const url = titanic.ready['metrics'] as string;
    const broker = titanic.ready['broker'] as string;
    // The workers hold each "before" request until the link is cut, so that it is in flight then.
    let cut!: () => void;
    const linkCut = new Promise<void>((resolve) => (cut = resolve));
    let holding = 0;
    const echoes = Array.from(
      { length: IN_FLIGHT },
      () =>
        new MajordomoWorker({
          broker,
          service: 'echo',
          heartbeatIntervalMs: HEARTBEAT_MS,
          reconnectDelay: constantBackoff(100),
          handler: async (body) => {
            if (body[0]?.toString().startsWith('before-') === true) {
              holding++;
              await linkCut;
            }
            return body;
          },
        }),
    );
    await Promise.all(echoes.map((echo) => echo.start()));
    const served = echoes.map((echo) => echo.closed());
    const client = await TitanicClient.start({ broker, attemptTimeoutMs: 20_000, retries: 0 });
    await using raw = await MajordomoClient.start({ broker, attemptTimeoutMs: 30_000, retries: 0 });
    try {
      expect(await health(url)).toBe(200);
      const before = new Map<string, string>();
      // The first request to a service is a probe, alone in flight: answered, the service is open to all.
      expect((await client.call('echo', ['warm-up'], { timeoutMs: 30_000 }))[0]?.toString()).toBe('warm-up');
      for (let i = 0; i < IN_FLIGHT; i++) before.set(await client.submit('echo', [`before-${i}`]), `before-${i}`);
      await eventually(() => holding === IN_FLIGHT, { what: 'every "before" request at a worker' });

      proxy.blackhole();
      const cutAt = Date.now();
      cut();
      // A submission during the outage: "500", not a false "200" and not a hang.
      const answer = (await raw.request('titanic.request', ['echo', 'during']))[0]?.toString();
      const refusedAfterMs = Date.now() - cutAt;
      expect(answer).toBe('500');
      expect(refusedAfterMs).toBeLessThanOrEqual(OUTAGE_NOTICED_MS + SCHEDULING_MS);
      await eventually(async () => (await health(url)) === 503, {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: '/healthz 503',
      });
      const unhealthyAfterMs = Date.now() - cutAt;
      expect(unhealthyAfterMs).toBeLessThanOrEqual(OUTAGE_NOTICED_MS + SCHEDULING_MS);

      proxy.forward();
      const healAt = Date.now();
      await eventually(async () => (await health(url)) === 200, {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: '/healthz 200',
      });
      const healthyAfterMs = Date.now() - healAt;
      // An attempt left hanging on the dead link runs out its time, then the next one succeeds.
      expect(healthyAfterMs).toBeLessThanOrEqual(OUTAGE_NOTICED_MS + RETRY_MAX_MS + SCHEDULING_MS);
      // New submissions work again, without a restart.
      const after = await client.call('echo', ['after'], { timeoutMs: 30_000 });
      expect(after[0]?.toString()).toBe('after');
      const wrong: string[] = [];
      for (const [uuid, body] of before) {
        const reply = await client.waitReply(uuid, { timeoutMs: 30_000, pollIntervalMs: 50, maxPollIntervalMs: 250 });
        if (reply.length !== 1 || reply[0]?.toString() !== body) wrong.push(uuid);
      }
      expect(wrong).toEqual([]);
      expect(titanic.logs.filter((l) => (l.level ?? 0) >= 60)).toEqual([]);
      console.info(
        `titanic pg black-hole test: submission refused with "500" after ${refusedAfterMs} ms, /healthz 503 after ${unhealthyAfterMs} ms, 200 again ${healthyAfterMs} ms after the link healed`,
      );
    } finally {
      await client.close();
      await Promise.all(echoes.map((echo) => echo.close()));
      await Promise.all(served);
    }
  }, 120_000);
});
