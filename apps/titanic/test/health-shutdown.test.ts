/**
 * /healthz of a running titanic process (with its broker) across SIGTERM (shared sequence:
 * testkit's `healthThroughShutdown`): 200 while submissions flow, 503 from the signal on while it
 * still serves (`--shutdown-delay-ms`), 503 then refused while it closes, exit 0.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MajordomoClient } from '@zpatterns/majordomo';
import { appBin, Daemon, expectCleanHealthShutdown, healthThroughShutdown } from '@zpatterns/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const dataDir = mkdtempSync(join(tmpdir(), 'titanic-health-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('titanic /healthz through shutdown', () => {
  it('200 while serving, 503 from SIGTERM until the listener closes last, exit 0', async () => {
    await using daemon = await Daemon.start({
      bin: appBin('titanic'),
      args: [
        '--with-broker',
        '--broker',
        'tcp://127.0.0.1:*',
        '--data-dir',
        dataDir,
        '--metrics-port',
        '0',
        '--shutdown-delay-ms',
        '600000',
      ],
    });
    await using client = await MajordomoClient.start({
      broker: daemon.ready['broker'] as string,
      attemptTimeoutMs: 5000,
      retries: 0,
    });
    const result = await healthThroughShutdown(daemon, async () => {
      const reply = await client.request('titanic.request', ['nobody', 'hello']);
      expect(reply[0]?.toString()).toBe('200');
    });
    expectCleanHealthShutdown(result);
  }, 30_000);
});
