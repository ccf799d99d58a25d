/**
 * The retention sweep does not stall the daemon, on both stores (real processes):
 *
 *   MajordomoClient ──titanic.request (a stream)──> Broker (here, heartbeat 100 ms, liveness 10)
 *                                                     └──> titanic (process) ── store holding
 *                                                          100,000 replies past retention
 *
 * The store is filled with 100,000 replies before titanic starts with `--reply-retention-ms 1000`,
 * so its first sweeps delete them all. Meanwhile submissions keep coming: they must be answered
 * during the sweep (between its start and its end, as the sweep's log line dates them), and the
 * daemon's longest event-loop delay meanwhile (its `/metrics`) must stay under the broker's
 * heartbeat expiry, 1 s, so its workers' heartbeats keep flowing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker, MajordomoClient } from '@zpatterns/majordomo';
import { appBin, Daemon, type LogLine, usePostgres } from '@zpatterns/testkit';
import { PostgresStore, SqliteStore, type StoreWrite, type TitanicStore } from '@zpatterns/titanic';
import { generateUuid } from '@zpatterns/titanic/protocol';
import { afterAll, describe, expect, it } from 'vitest';

const HEARTBEAT_MS = 100;
/** The broker expires a worker silent for 1 s: generous on a loaded machine, yet a stall it sees. */
const LIVENESS = 10;
const REPLIES = 100_000;

const dirs: string[] = [];
const postgres = usePostgres();
const available = postgres.available;
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Writes `REPLIES` answered requests, in batches of 10,000. */
async function fill(store: TitanicStore): Promise<void> {
  const body = [Buffer.alloc(64, 7)];
  for (let done = 0; done < REPLIES; done += 10_000) {
    const uuids = Array.from({ length: 10_000 }, () => generateUuid());
    await store.write([
      ...uuids.map((uuid): StoreWrite => ({ type: 'request', uuid, service: Buffer.from('echo'), body })),
      ...uuids.map((uuid): StoreWrite => ({ type: 'reply', uuid, body })),
    ]);
  }
  await store.close();
}

const stores: [string, () => Promise<string[]>][] = [
  [
    'SQLite',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'titanic-sweep-'));
      dirs.push(dir);
      await fill(await SqliteStore.start({ dataDir: dir }));
      return ['--data-dir', dir];
    },
  ],
];
if (available) {
  stores.push([
    'PostgreSQL',
    async () => {
      const url = postgres.cluster().url;
      await fill(await PostgresStore.start({ url }));
      return ['--store', url];
    },
  ]);
}

describe('titanic: a sweep of 100,000 expired replies does not stall the daemon', () => {
  it.each(stores)(
    '%s: submissions are answered during the sweep, and no worker misses its heartbeats',
    async (_name, prepare) => {
      const storeArgs = await prepare();
      await using broker = await Broker.start({
        bind: 'tcp://127.0.0.1:*',
        heartbeatIntervalMs: HEARTBEAT_MS,
        liveness: LIVENESS,
      });
      const endpoint = broker.endpoints.clients[0] as string;
      await using titanic = await Daemon.start({
        bin: appBin('titanic'),
        args: [
          '--broker',
          endpoint,
          ...storeArgs,
          '--heartbeat-ms',
          String(HEARTBEAT_MS),
          '--liveness',
          String(LIVENESS),
          '--reply-retention-ms',
          '1000',
          '--request-workers',
          '4',
          '--reply-workers',
          '2',
          '--metrics-port',
          '0',
        ],
      });
      // Reading the metrics resets the event-loop delay histogram: its max covers what follows.
      const metrics = `${titanic.ready['metrics'] as string}/metrics`;
      await fetch(metrics).then((r) => r.text());
      // 4 titanic.request, 2 titanic.reply, 2 titanic.close workers; a worker that missed its
      // heartbeats would register again.
      const registered = 8;
      await expect.poll(() => broker.stats.workersRegistered, { timeout: 10_000 }).toBe(registered);

      // Submissions, two at a time, until the sweep has deleted everything.
      // Retries as any MDP client has them: a worker the broker dropped takes its request along.
      await using client = await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 3000, retries: 3 });
      const answeredAt: number[] = [];
      let expired = 0;
      let sweep: LogLine | undefined;
      const swept = (async () => {
        while (expired < REPLIES) {
          const line = await titanic.waitForLog((l) => l.msg === 'unclosed replies expired', 60_000);
          expired += line['expired'] as number;
          sweep = line;
        }
      })();
      let done = false;
      void swept.finally(() => (done = true));
      const submitter = async (): Promise<void> => {
        while (!done) {
          const [status] = await client.request('titanic.request', ['nobody', 'during the sweep']);
          expect(status?.toString()).toBe('200');
          answeredAt.push(Date.now());
        }
      };
      await Promise.all([swept, submitter(), submitter()]).catch((err: unknown) => {
        throw new Error(`${String(err)}; broker stats ${JSON.stringify(broker.stats)}`, { cause: err });
      });

      expect(expired).toBe(REPLIES);
      const lag = /^zpatterns_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(await (await fetch(metrics)).text());
      const lagMs = Math.round(Number(lag?.[1]) * 1000);
      const last = sweep as LogLine;
      const end = last['time'] as number;
      const start = end - (last['durationMs'] as number);
      const during = answeredAt.filter((t) => t > start && t < end).length;
      console.log(
        `${_name}: the last sweep deleted ${String(last['expired'])} in ${String(last['durationMs'])} ms; ${during} submissions answered meanwhile; longest event-loop delay ${lagMs} ms`,
      );
      expect(during).toBeGreaterThanOrEqual(5);
      // The daemon's heartbeats were never held up for as long as the broker waits for them (the
      // broker here shares a process with the test, so its own count is only printed).
      expect(lagMs).toBeLessThan(HEARTBEAT_MS * LIVENESS);
      console.log(
        `${_name}: workers expired by the broker ${broker.stats.expiredWorkers}, registrations ${broker.stats.workersRegistered} (${registered} at start)`,
      );
      expect(await titanic.stop()).toEqual({ code: 0, signal: null });
    },
    120_000,
  );
});
