/**
 * ppqueue's `/status` against the documented schema (docs/status.schema.json), with a real worker:
 *
 *   test ──GET /status──▶ ppqueue --metrics-port 0 ◀──PPP── worker (here)
 */
import { ParanoidPirateWorker } from '@zpatterns/pirate';
import { appBin, Daemon, eventually, validateSchema } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

describe('ppqueue /status', () => {
  it('answers the documented schema and counts the ready worker', async () => {
    await using daemon = await Daemon.start({
      bin: appBin('ppqueue'),
      args: [
        ...['--frontend', 'tcp://127.0.0.1:*', '--backend', 'tcp://127.0.0.1:*'],
        ...['--heartbeat-ms', '100', '--metrics-port', '0'],
      ],
    });
    const url = daemon.ready['metrics'] as string;
    await using _worker = await ParanoidPirateWorker.start({
      queue: daemon.ready['backend'] as string,
      handler: (body) => body,
      heartbeatIntervalMs: 100,
    });
    const doc = await eventually(async () => {
      const d = (await (await fetch(`${url}/status`)).json()) as { queue: { readyWorkers: number } };
      expect(d.queue.readyWorkers).toBe(1);
      return d;
    });
    expect(validateSchema(doc)).toEqual([]);
    expect(doc).toMatchObject({ version: 1, daemon: 'ppqueue', queue: { mode: 'paranoid', queuedRequests: 0 } });
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  });
});
