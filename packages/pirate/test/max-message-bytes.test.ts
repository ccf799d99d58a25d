/**
 * The frame limit belongs to each queue: two queues in one process, one at 1,000 bytes and one at
 * 32 MiB (above the 16 MiB default), each keeps its own.
 *
 *   client --[2,000-byte frame]--> queue (maxMessageBytes 1000)   connection dropped, never queued
 *   client --[20 MiB frame]------> queue (maxMessageBytes 32 MiB) queued for a worker
 */
import { describe, expect, it } from 'vitest';
import { ParanoidPirateQueue, SimplePirateQueue } from '@zpatterns/pirate';
import { eventually, rawRequest, useDisposables } from '@zpatterns/testkit';

const { track } = useDisposables();
const any = { frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' };

describe('maxMessageBytes, per queue', () => {
  it('a small limit drops the oversize client while a larger one in the same process takes a 20 MiB request', async () => {
    const small = track(await ParanoidPirateQueue.start({ ...any, maxMessageBytes: 1000 }));
    const large = track(await SimplePirateQueue.start({ ...any, maxMessageBytes: 32 * 1024 * 1024 }));
    const toLarge = track(rawRequest(large.endpoints.frontend));
    await toLarge.send([Buffer.alloc(20 * 1024 * 1024, 1)]);
    await eventually(() => large.queued === 1, { timeoutMs: 10_000, what: 'the 20 MiB request queued' });
    const toSmall = track(rawRequest(small.endpoints.frontend));
    const dropped = new Promise<void>((resolve) => toSmall.socket.events.on('disconnect', () => resolve()));
    await toSmall.send([Buffer.alloc(2000, 1)]);
    await dropped; // libzmq dropped the connection before reading the frame
    expect(small.stats.requests).toBe(0);
    const fits = track(rawRequest(small.endpoints.frontend));
    await fits.send([Buffer.alloc(100, 1)]);
    await eventually(() => small.queued === 1, { what: 'the 100-byte request queued' });
  });

  it('refuses a bad limit in the one message style', () => {
    expect(() => new ParanoidPirateQueue({ maxMessageBytes: 0 })).toThrow(
      'ParanoidPirateQueue: maxMessageBytes must be a whole number of bytes >= 1, or -1 for no limit, got 0',
    );
  });
});
