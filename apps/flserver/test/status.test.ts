/**
 * flserver's `/status` against the documented schema (docs/status.schema.json), after requests:
 *
 *   test ──GET /status──▶ flserver --metrics-port 0 ◀──FLP── client (here)
 */
import { FreelanceClient } from '@zpatterns/freelance';
import { appBin, Daemon, validateSchema } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

describe('flserver /status', () => {
  it('answers the documented schema with its endpoint and requests', async () => {
    await using daemon = await Daemon.start({
      bin: appBin('flserver'),
      args: ['--bind', 'tcp://127.0.0.1:*', '--metrics-port', '0', '--max-concurrent', '7'],
    });
    const url = daemon.ready['metrics'] as string;
    const endpoint = daemon.ready['endpoint'] as string;
    await using client = await FreelanceClient.start({ servers: [endpoint] });
    for (let i = 0; i < 3; i++) await client.request([`x${i}`]);
    const doc: unknown = await (await fetch(`${url}/status`)).json();
    expect(validateSchema(doc)).toEqual([]);
    expect(doc).toMatchObject({
      daemon: 'flserver',
      server: { endpoint, maxConcurrent: 7, inFlight: 0, saturated: false, requests: 3 },
    });
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  });
});
