/**
 * BinaryStarClient's defaults on a ManualClock, with real REQ sockets to two endpoints nobody
 * serves: 1000 ms per attempt, then a 2000 ms settle before the attempt on the other server.
 *
 *   t = 0     send to the primary
 *   t = 1000  no reply: failover to the backup, settle
 *   t = 3000  send to the backup (a new REQ socket)
 */
import { ManualClock, type ComponentStatus } from '@zpatterns/core';
import { BinaryStarClient, type BinaryStarClientOptions } from '@zpatterns/bstar';
import type { LazyPirateClientStatus } from '@zpatterns/pirate';
import { eventually, ipcEndpoint } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

describe('BinaryStarClient', () => {
  it("waits bstarcli's 1000 ms per attempt and settles 2000 ms before failing over", async () => {
    const clock = new ManualClock();
    const servers = [ipcEndpoint('bstar-cli-p'), ipcEndpoint('bstar-cli-b')];
    const options: BinaryStarClientOptions = { servers, clock, retries: 1 };
    await using client = await BinaryStarClient.start(options);
    const status = client.status();
    const pending = client.request(['x']).catch((e: unknown) => e);
    await eventually(() => client.waiting);
    clock.advance(999);
    await new Promise((r) => setImmediate(r));
    expect(client.stats.timeouts).toBe(0);
    clock.advance(1); // t = 1000: the attempt times out; the client fails over and settles
    await eventually(() => client.server === servers[1]);
    clock.advance(1999);
    await new Promise((r) => setImmediate(r));
    expect(client.stats.sockets).toBe(1); // still settling: no socket to the backup yet
    clock.advance(1); // t = 3000: the resend goes to the backup on a new socket
    await eventually(() => client.stats.sockets === 2);
    clock.advance(1000);
    expect(await pending).toMatchObject({ code: 'ERR_TIMEOUT', name: 'TimeoutError', attempts: 2 });
    await client.close();
    const events: (LazyPirateClientStatus | ComponentStatus)[] = [];
    for await (const event of status) events.push(event);
    // Neither server ever answered: no connected, so no disconnected either.
    expect(events).toEqual([
      { type: 'failover', from: servers[0], to: servers[1] },
      { type: 'reconnecting', peer: servers[1], attempt: 1, delayMs: 2000 },
      { type: 'failover', from: servers[1], to: servers[0] }, // the next request starts there
      { type: 'closed' },
    ]);
  });
});
