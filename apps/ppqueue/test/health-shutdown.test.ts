/**
 * /healthz of a running ppqueue process across SIGTERM (shared sequence: testkit's
 * `healthThroughShutdown`): 200 while requests flow through a PPP worker, 503 from the signal on
 * while it still serves (`--shutdown-delay-ms`), 503 then refused while it closes, exit 0.
 */
import { LazyPirateClient, ParanoidPirateWorker } from '@zpatterns/pirate';
import { appBin, Daemon, expectCleanHealthShutdown, healthThroughShutdown } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

describe('ppqueue /healthz through shutdown', () => {
  it('200 while serving, 503 from SIGTERM until the listener closes last, exit 0', async () => {
    await using daemon = await Daemon.start({
      bin: appBin('ppqueue'),
      args: [
        '--frontend',
        'tcp://127.0.0.1:*',
        '--backend',
        'tcp://127.0.0.1:*',
        '--heartbeat-ms',
        '100',
        '--metrics-port',
        '0',
        '--shutdown-delay-ms',
        '600000',
      ],
    });
    await using _worker = await ParanoidPirateWorker.start({
      queue: daemon.ready['backend'] as string,
      handler: (body) => body,
      heartbeatIntervalMs: 100,
    });
    await using client = await LazyPirateClient.start({
      servers: daemon.ready['frontend'] as string,
      attemptTimeoutMs: 2000,
      retries: 3,
    });
    const result = await healthThroughShutdown(daemon, async () => {
      for (let i = 0; i < 3; i++) expect((await client.request([`x${i}`]))[0]?.toString()).toBe(`x${i}`);
    });
    expectCleanHealthShutdown(result);
  }, 30_000);
});
