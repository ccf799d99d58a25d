/**
 * /healthz of a running bstarsrv process across SIGTERM (shared sequence: testkit's
 * `healthThroughShutdown`): 200 while requests flow, 503 from the signal on while it still
 * serves (`--shutdown-delay-ms`), 503 then refused while it closes, exit 0.
 */
import { BinaryStarClient } from '@zpatterns/bstar';
import { appBin, Daemon, expectCleanHealthShutdown, healthThroughShutdown, ipcEndpoint } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

describe('bstarsrv /healthz through shutdown', () => {
  it('200 while serving, 503 from SIGTERM until the listener closes last, exit 0', async () => {
    const frontend = ipcEndpoint('bstar-health');
    await using daemon = await Daemon.start({
      bin: appBin('bstarsrv'),
      args: [
        '--ha',
        'primary',
        '--frontend',
        frontend,
        '--state-bind',
        ipcEndpoint('bstar-health-s'),
        '--state-connect',
        ipcEndpoint('bstar-health-peer'),
        '--ha-heartbeat-ms',
        '100',
        '--metrics-port',
        '0',
        '--shutdown-delay-ms',
        '600000',
      ],
    });
    await using client = await BinaryStarClient.start({ servers: [frontend], attemptTimeoutMs: 300, retries: 30 });
    const result = await healthThroughShutdown(daemon, async () => {
      for (let i = 0; i < 3; i++) expect((await client.request([`x${i}`]))[0]?.toString()).toBe(`x${i}`);
    });
    expectCleanHealthShutdown(result);
  }, 30_000);
});
