/**
 * titanic on PostgreSQL when the database stops answering without closing anything (real
 * processes, a TCP proxy in between):
 *
 *   TitanicClient ──> titanic --with-broker (process) ──TCP──> proxy ──unix socket──> PostgreSQL
 *   fetch /healthz ──────┘                                      (forward, black hole, forward)
 *
 * The proxy black-holes the link: no byte moves, no RST, no FIN, as in a network partition or a
 * failover of the database host. Within the connect timeout plus the query timeout (5 s each), /healthz
 * turns 503 and a new submission is answered "500" (never a false "200"); once the proxy forwards
 * again everything recovers without a restart, and every request acknowledged before the outage
 * is answered with its own reply. The measured times are printed (docs/titanic.md).
 */
import { join } from 'node:path';
import { constantBackoff } from '@zpatterns/core';
import { MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, Daemon, eventually, startTcpProxy, usePostgres } from '@zpatterns/testkit';
import { TitanicClient } from '@zpatterns/titanic';
import { describe, expect, it } from 'vitest';

const HEARTBEAT_MS = 100;
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
    const echo = new MajordomoWorker({
      broker,
      service: 'echo',
      heartbeatIntervalMs: HEARTBEAT_MS,
      reconnect: constantBackoff(100),
      handler: (body) => body,
    });
    await echo.start();
    const served = echo.closed();
    const client = await TitanicClient.start({ broker, attemptTimeoutMs: 20_000, retries: 0 });
    await using raw = await MajordomoClient.start({ broker, attemptTimeoutMs: 30_000, retries: 0 });
    try {
      expect(await health(url)).toBe(200);
      const before = new Map<string, string>();
      for (let i = 0; i < 50; i++) before.set(await client.submit('echo', [`before-${i}`]), `before-${i}`);

      proxy.blackhole();
      const cutAt = Date.now();
      // A submission during the outage: "500", not a false "200" and not a hang.
      const answer = (await raw.request('titanic.request', ['echo', 'during']))[0]?.toString();
      const refusedAfterMs = Date.now() - cutAt;
      expect(answer).toBe('500');
      await eventually(async () => (await health(url)) === 503, {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: '/healthz 503',
      });
      const unhealthyAfterMs = Date.now() - cutAt;

      proxy.forward();
      const healAt = Date.now();
      await eventually(async () => (await health(url)) === 200, {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: '/healthz 200',
      });
      const healthyAfterMs = Date.now() - healAt;
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
      await echo.close();
      await served;
    }
  }, 120_000);
});
