/**
 * /healthz of a running mdbroker process across SIGTERM (shared sequence: testkit's
 * `healthThroughShutdown`): 200 while requests flow, 503 from the signal on while it still
 * serves (`--shutdown-delay-ms`), 503 then refused while it closes, exit 0.
 */
import { MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, Daemon, expectCleanHealthShutdown, healthThroughShutdown } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

describe('mdbroker /healthz through shutdown', () => {
  it('200 while serving, 503 from SIGTERM until the listener closes last, exit 0', async () => {
    await using daemon = await Daemon.start({
      bin: appBin('mdbroker'),
      args: ['--bind', 'tcp://127.0.0.1:*', '--metrics-port', '0', '--shutdown-delay-ms', '600000'],
    });
    const endpoint = (daemon.ready['endpoints'] as string[])[0] ?? '';
    await using worker = new MajordomoWorker({ broker: endpoint, service: 'echo', handler: (request) => request });
    await worker.start();
    await using client = await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 5000, retries: 0 });
    const result = await healthThroughShutdown(daemon, async () => {
      for (let i = 0; i < 3; i++) expect((await client.request('echo', `x${i}`))[0]?.toString()).toBe(`x${i}`);
    });
    expectCleanHealthShutdown(result);
  }, 30_000);
});
