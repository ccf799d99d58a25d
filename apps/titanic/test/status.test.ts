/**
 * titanic's `/status` against the documented schema (docs/status.schema.json): a request stored
 * for a service nobody serves shows up as pending for that service.
 *
 *   test ──GET /status──▶ titanic --with-broker --metrics-port 0 ◀──TSP── client (here)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MajordomoClient } from '@zpatterns/majordomo';
import { appBin, Daemon, eventually, validateSchema } from '@zpatterns/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const dataDir = mkdtempSync(join(tmpdir(), 'titanic-status-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

interface Doc {
  titanic: { store: string; storeHealthy: boolean; healthy: boolean };
  services: { name: string; pending: number | null; inFlight: number; done: number | null }[];
}

describe('titanic /status', () => {
  it('answers the documented schema: store health and requests by service', async () => {
    await using daemon = await Daemon.start({
      bin: appBin('titanic'),
      args: ['--with-broker', '--broker', 'tcp://127.0.0.1:*', '--data-dir', dataDir, '--metrics-port', '0'],
    });
    const url = daemon.ready['metrics'] as string;
    await using client = await MajordomoClient.start({
      broker: daemon.ready['broker'] as string,
      attemptTimeoutMs: 5000,
      retries: 0,
    });
    const reply = await client.request('titanic.request', ['nobody', 'hello']);
    expect(reply[0]?.toString()).toBe('200');
    const doc = await eventually(async () => {
      const d = (await (await fetch(`${url}/status`)).json()) as Doc;
      expect(d.services.find((s) => s.name === 'nobody')?.pending).toBe(1);
      return d;
    });
    expect(validateSchema(doc)).toEqual([]);
    expect(doc.titanic).toMatchObject({ store: 'sqlite', storeHealthy: true, healthy: true });
    expect(doc).toHaveProperty('broker');
    expect(doc).not.toHaveProperty('leases');
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  });
});
