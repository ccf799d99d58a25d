/**
 * Crash safety with real processes: `mdbroker` and `titanic` run as child processes (the built
 * apps), an echo worker and the test client run here.
 *
 *   test client ──submit/poll──> mdbroker (process) <──> titanic (process, SQLite on disk)
 *                                      ^
 *                                      └── echo worker (in-process MajordomoWorker)
 *
 * 2,000 submissions while Titanic is SIGKILLed at random moments (four times) and restarted on the
 * same data directory, and the broker is SIGKILLed once and restarted on the same port. Every UUID
 * that was acknowledged with "200" must eventually yield exactly its own reply (the echo of its
 * unique body): no acknowledged request is lost or mixed up.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constantBackoff } from '@zpatterns/core';
import { MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, Daemon, seededRandom } from '@zpatterns/testkit';
import { TitanicClient } from '@zpatterns/titanic';
import { afterAll, describe, expect, it } from 'vitest';

const HEARTBEAT_MS = 100;
const TOTAL = 2000;
const SUBMITTERS = 32;

const dataDir = mkdtempSync(join(tmpdir(), 'titanic-crash-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function brokerArgs(bind: string): string[] {
  return ['--bind', bind, '--heartbeat-ms', String(HEARTBEAT_MS), '--request-ttl-ms', '1000', '--log-level', 'info'];
}

describe('titanic crash safety (real processes)', () => {
  it('every acknowledged request yields exactly its reply across SIGKILLs of titanic and of the broker', async () => {
    await using broker = await Daemon.start({ bin: appBin('mdbroker'), args: brokerArgs('tcp://127.0.0.1:*') });
    const endpoint = (broker.ready['endpoints'] as string[])[0] as string;
    // Restarts bind the same port, so every peer's connect() finds the broker again.
    broker.options.args = brokerArgs(endpoint);

    await using titanic = await Daemon.start({
      bin: appBin('titanic'),
      args: [
        '--broker',
        endpoint,
        '--data-dir',
        dataDir,
        '--heartbeat-ms',
        String(HEARTBEAT_MS),
        '--dispatch-timeout-ms',
        '1000',
        '--retry-max-ms',
        '500',
        '--request-workers',
        '8',
        '--concurrency',
        '32',
        '--log-level',
        'info',
      ],
    });

    const echo = new MajordomoWorker({
      broker: endpoint,
      service: 'echo',
      heartbeatIntervalMs: HEARTBEAT_MS,
      reconnectDelay: constantBackoff(100),
      handler: (body) => body,
    });
    await echo.start();
    const served = echo.closed();
    const client = await TitanicClient.start({ broker: endpoint, attemptTimeoutMs: 500, retries: 0, maxSockets: 64 });

    try {
      // --- Submissions with chaos ---------------------------------------------------------------
      const acknowledged = new Map<string, string>(); // uuid -> body
      let next = 0;
      let failedSubmits = 0;
      const submitter = async (): Promise<void> => {
        for (let i = next++; i < TOTAL; i = next++) {
          const body = `request-${i}-${Math.random().toString(36).slice(2)}`;
          for (;;) {
            try {
              acknowledged.set(await client.submit('echo', [body]), body);
              break;
            } catch {
              // No "200": the request may or may not be stored. Submit again (a duplicate is fine).
              failedSubmits++;
              await new Promise((resolve) => setTimeout(resolve, 20));
            }
          }
        }
      };

      const rng = seededRandom(0x717a41c);
      const titanicKillsAt = [250, 650, 1100, 1600].map((n) => n + Math.floor(rng() * 100));
      const brokerKillAt = 850 + Math.floor(rng() * 100);
      let titanicKills = 0;
      let brokerKills = 0;
      const chaos = async (): Promise<void> => {
        const waitFor = async (count: number): Promise<void> => {
          while (acknowledged.size < count) await new Promise((resolve) => setTimeout(resolve, 5));
          await new Promise((resolve) => setTimeout(resolve, Math.floor(rng() * 40)));
        };
        const events = [
          ...titanicKillsAt.map((at) => ({ at, what: 'titanic' as const })),
          { at: brokerKillAt, what: 'broker' as const },
        ].sort((a, b) => a.at - b.at);
        for (const event of events) {
          await waitFor(event.at);
          if (event.what === 'titanic') {
            const status = await titanic.kill('SIGKILL');
            expect(status.signal).toBe('SIGKILL');
            titanicKills++;
            await titanic.restart();
          } else {
            await broker.kill('SIGKILL');
            brokerKills++;
            await broker.restart();
          }
        }
      };

      await Promise.all([...Array.from({ length: SUBMITTERS }, submitter), chaos()]);
      expect(titanicKills).toBe(4);
      expect(brokerKills).toBe(1);
      expect(acknowledged.size).toBeGreaterThanOrEqual(TOTAL);

      // --- Every acknowledged UUID yields exactly its reply -------------------------------------
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

      // The restarts recovered pending requests from disk at least once.
      const recovered = titanic.logs.filter((l) => l.msg === 'ready').map((l) => l['recovered'] as number);
      expect(recovered).toHaveLength(5);
      expect(recovered.slice(1).some((n) => n > 0)).toBe(true);
      expect(titanic.logs.filter((l) => (l.level ?? 0) >= 60)).toEqual([]);
      // Closed requests are deleted.
      await Promise.all(entries.slice(0, 100).map(([uuid]) => client.closeRequest(uuid)));
      expect((await client.poll((entries[0] as [string, string])[0])).status).toBe('unknown');
      console.info(
        `titanic crash test: ${acknowledged.size} acknowledged, ${failedSubmits} failed submits retried, recovered at restarts: ${recovered.join(', ')}`,
      );
    } finally {
      await client.close();
      await echo.close();
      await served;
    }
  }, 90_000);
});
