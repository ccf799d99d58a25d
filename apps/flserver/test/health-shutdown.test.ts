/**
 * /healthz of a running flserver process across SIGTERM (shared sequence: testkit's
 * `healthThroughShutdown`): 200 while requests flow, 503 from the signal on while it still
 * serves (`--shutdown-delay-ms`), 503 then refused while it closes, exit 0.
 */
import { FreelanceClient } from '@zpatterns/freelance';
import { appBin, Daemon, expectCleanHealthShutdown, healthThroughShutdown } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

describe('flserver /healthz through shutdown', () => {
  it('200 while serving, 503 from SIGTERM until the listener closes last, exit 0', async () => {
    await using daemon = await Daemon.start({
      bin: appBin('flserver'),
      args: ['--bind', 'tcp://127.0.0.1:*', '--metrics-port', '0', '--shutdown-delay-ms', '600000'],
    });
    await using client = await FreelanceClient.start({ servers: [daemon.ready['endpoint'] as string] });
    const result = await healthThroughShutdown(daemon, async () => {
      for (let i = 0; i < 3; i++) expect((await client.request([`x${i}`]))[0]?.toString()).toBe(`x${i}`);
    });
    expectCleanHealthShutdown(result);
  }, 30_000);
});
