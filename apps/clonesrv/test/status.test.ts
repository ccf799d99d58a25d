/**
 * clonesrv's `/status` against the documented schema (docs/status.schema.json), with a real client
 * that subscribed and wrote:
 *
 *   test ──GET /status──▶ clonesrv --metrics-port 0 ◀──CHP── CloneClient (here)
 */
import { CloneClient } from '@zpatterns/clone';
import { appBin, Daemon, eventually, freePortRange, validateSchema } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

describe('clonesrv /status', () => {
  it('answers the documented schema: sequence, keys, subscribers', async () => {
    const port = await freePortRange(3);
    await using daemon = await Daemon.start({
      bin: appBin('clonesrv'),
      args: ['--port', String(port), '--hugz-ms', '100', '--metrics-port', '0'],
    });
    const url = daemon.ready['metrics'] as string;
    await using client = new CloneClient({ servers: [`tcp://127.0.0.1:${port}`], peerTtlMs: 2000 });
    await client.start();
    await client.commit('/status/a', 'x');
    await client.commit('/status/b', 'y');
    const doc = await eventually(async () => {
      const d = (await (await fetch(`${url}/status`)).json()) as { clone: { subscribers: number } };
      expect(d.clone.subscribers).toBe(1);
      return d;
    });
    expect(validateSchema(doc)).toEqual([]);
    expect(doc).toMatchObject({
      daemon: 'clonesrv',
      clone: { role: 'active', sequence: '2', keys: 2, pending: 0, splitBrains: 0, healthy: true },
    });
    await client.close();
    await eventually(async () => {
      const d = (await (await fetch(`${url}/status`)).json()) as { clone: { subscribers: number } };
      return d.clone.subscribers === 0;
    });
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  });
});
