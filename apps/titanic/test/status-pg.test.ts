/**
 * titanic's `/status` on PostgreSQL against the documented schema: a request dispatched to a
 * worker that has not answered yet is pending and in flight for its service, and its lease is
 * held by this instance.
 *
 *   client ──titanic.request──▶ titanic --with-broker --store postgres://... ──▶ worker "slow" (holds it)
 *   test ──GET /status──────────┘
 */
import { MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, Daemon, eventually, usePostgres, validateSchema } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

const postgres = usePostgres();

interface Doc {
  titanic: { instance: string | null; store: string };
  services: { name: string; pending: number | null; inFlight: number }[];
  leases?: { instance: string; leases: number; self: boolean }[];
}

describe.skipIf(!postgres.available)('titanic /status on PostgreSQL', () => {
  it('shows the request in flight for its service and the lease this instance holds', async () => {
    const db = postgres.cluster();
    await using titanic = await Daemon.start({
      bin: appBin('titanic'),
      args: [
        ...['--with-broker', '--broker', 'tcp://127.0.0.1:*', '--store', db.url],
        ...['--claim-interval-ms', '100', '--metrics-port', '0'],
      ],
    });
    const url = titanic.ready['metrics'] as string;
    const broker = titanic.ready['broker'] as string;
    let release: () => void = () => undefined;
    const held = new Promise<string[]>((resolve) => (release = () => resolve(['done'])));
    await using worker = new MajordomoWorker({ broker, service: 'slow', handler: () => held });
    await worker.start();
    await using client = await MajordomoClient.start({ broker, attemptTimeoutMs: 10_000, retries: 0 });
    expect((await client.request('titanic.request', ['slow', 'hello']))[0]?.toString()).toBe('200');

    const doc = await eventually(async () => {
      const d = (await (await fetch(`${url}/status`)).json()) as Doc;
      const slow = d.services.find((s) => s.name === 'slow');
      return slow?.inFlight === 1 && d.leases?.length === 1 ? d : undefined;
    });
    release();
    expect(validateSchema(doc)).toEqual([]);
    expect(doc.titanic.store).toBe('postgres');
    expect(doc.services.find((s) => s.name === 'slow')?.pending).toBe(1);
    expect(doc.leases).toEqual([{ instance: doc.titanic.instance, leases: 1, self: true }]);
    expect(await titanic.stop()).toEqual({ code: 0, signal: null });
  });
});
