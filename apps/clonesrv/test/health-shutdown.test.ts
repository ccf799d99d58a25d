/**
 * /healthz of a running clonesrv process across SIGTERM (shared sequence: testkit's
 * `healthThroughShutdown`): 200 while updates flow, 503 from the signal on while it still serves
 * (`--shutdown-delay-ms`), 503 then refused while it closes, exit 0.
 */
import { CloneClient } from '@zpatterns/clone';
import { appBin, Daemon, freePortRange, expectCleanHealthShutdown, healthThroughShutdown } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

describe('clonesrv /healthz through shutdown', () => {
  it('200 while serving, 503 from SIGTERM until the listener closes last, exit 0', async () => {
    const port = await freePortRange(3);
    await using daemon = await Daemon.start({
      bin: appBin('clonesrv'),
      args: ['--port', String(port), '--hugz-ms', '100', '--metrics-port', '0', '--shutdown-delay-ms', '600000'],
    });
    await using client = new CloneClient({ servers: [`tcp://127.0.0.1:${port}`], peerTtlMs: 2000 });
    await client.start();
    let n = 0;
    const result = await healthThroughShutdown(daemon, async () => {
      for (let i = 0; i < 3; i++) expect(await client.commit(`/h/${n++}`, 'x')).toBe(BigInt(n));
    });
    expectCleanHealthShutdown(result);
  }, 30_000);
});
