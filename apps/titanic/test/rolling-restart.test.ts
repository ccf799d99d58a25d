/**
 * A rolling restart of two Titanic instances on one PostgreSQL database, with a slow service
 * (real processes):
 *
 *   TitanicClient ──> mdbroker (process) <──> titanic A, titanic B (processes) ──> PostgreSQL
 *                            ^
 *                            └── 6 "slow" workers (in this process), 4 s per request, each dispatch recorded
 *
 * Six requests are dispatched; then A is stopped with SIGTERM and started again, then B. A request
 * that an instance abandons in flight at shutdown (its worker is still running it) is handed back
 * with what remains of its timeout as the delay, so no instance sends it again within its
 * timeout: every dispatch of a body comes at least `--dispatch-timeout-ms` after the one before, and every
 * request is answered with its own reply.
 */
import { constantBackoff, sleep } from '@zpatterns/core';
import { MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, Daemon, eventually, usePostgres } from '@zpatterns/testkit';
import { TitanicClient } from '@zpatterns/titanic';
import { describe, expect, it } from 'vitest';

const HEARTBEAT_MS = 250;
const TIMEOUT_MS = 8000;
const WORK_MS = 4000;
const REQUESTS = 6;

const postgres = usePostgres();
const available = postgres.available;

describe.skipIf(!available)('titanic on PostgreSQL: rolling restart with a slow service (real processes)', () => {
  it('a request abandoned in flight at SIGTERM is not sent again within its timeout, and every request is answered', async () => {
    const db = postgres.cluster();
    await using broker = await Daemon.start({
      bin: appBin('mdbroker'),
      args: ['--bind', 'tcp://127.0.0.1:*', '--heartbeat-ms', String(HEARTBEAT_MS), '--log-level', 'info'],
    });
    const endpoint = (broker.ready['endpoints'] as string[])[0] as string;
    const args = [
      '--broker',
      endpoint,
      '--store',
      db.url,
      '--lease-ms',
      '3000',
      '--claim-interval-ms',
      '100',
      '--heartbeat-ms',
      String(HEARTBEAT_MS),
      '--dispatch-timeout-ms',
      String(TIMEOUT_MS),
      '--log-level',
      'info',
    ];
    await using a = await Daemon.start({ bin: appBin('titanic'), args });
    await using b = await Daemon.start({ bin: appBin('titanic'), args });

    const dispatches = new Map<string, number[]>();
    const workers = Array.from(
      { length: REQUESTS },
      () =>
        new MajordomoWorker({
          broker: endpoint,
          service: 'slow',
          heartbeatIntervalMs: HEARTBEAT_MS,
          reconnectDelay: constantBackoff(100),
          handler: async (body) => {
            const key = body[0]?.toString() ?? '';
            dispatches.set(key, [...(dispatches.get(key) ?? []), Date.now()]);
            await sleep(WORK_MS);
            return body;
          },
        }),
    );
    await Promise.all(workers.map((worker) => worker.start()));
    const served = workers.map((worker) => worker.closed());
    const client = await TitanicClient.start({ broker: endpoint, attemptTimeoutMs: 3000, retries: 3 });
    try {
      const bodies = Array.from({ length: REQUESTS }, (_, i) => `slow-${i}`);
      const uuids = await Promise.all(bodies.map((body) => client.submit('slow', [body])));
      // Every request is in a worker's hands.
      await eventually(() => dispatches.size === REQUESTS, { timeoutMs: 40_000, what: 'all dispatched' });
      // The rolling restart: A, then B, each stopped with SIGTERM while requests are in flight.
      expect(await a.stop(15_000)).toEqual({ code: 0, signal: null });
      await a.restart();
      expect(await b.stop(15_000)).toEqual({ code: 0, signal: null });
      await b.restart();

      const replies = await Promise.all(
        uuids.map((uuid) => client.waitReply(uuid, { timeoutMs: 60_000, pollIntervalMs: 100, maxPollIntervalMs: 250 })),
      );
      expect(replies.map((r) => r[0]?.toString())).toEqual(bodies);
      const early: string[] = [];
      for (const [body, times] of dispatches) {
        for (let i = 1; i < times.length; i++) {
          const gap = (times[i] as number) - (times[i - 1] as number);
          if (gap < TIMEOUT_MS) early.push(`${body}: sent again after ${gap} ms`);
        }
      }
      expect(early).toEqual([]);
      // The restart did abandon requests in flight (else this test proves nothing).
      expect([...dispatches.values()].some((times) => times.length > 1)).toBe(true);
    } finally {
      await client.close();
      await Promise.all(workers.map((worker) => worker.close()));
      await Promise.all(served);
    }
  }, 120_000);
});
