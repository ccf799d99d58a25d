/**
 * The Paranoid Pirate timing rules with a ManualClock (real sockets, time moved by hand), so the
 * book's numbers are checked exactly: heartbeat every interval, expiry at interval x liveness,
 * reconnect backoff 1 s, 2 s, 4 s ... 32 s.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, type ComponentStatus, type Message } from '@zpatterns/core';
import { ParanoidPirateQueue, ParanoidPirateWorker, type ParanoidPirateWorkerStatus } from '@zpatterns/pirate';
import { eventually, rawDealer, rawRouter } from '@zpatterns/testkit';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

function track<T extends { close(): Promise<void> }>(resource: T): T {
  cleanup.push(() => resource.close());
  return resource;
}

const isReady = (m: Message): boolean => m.length === 2 && m[1]?.length === 1 && m[1][0] === 0x01;

describe('ParanoidPirateQueue timing (ManualClock)', () => {
  it('heartbeats each interval and purges a silent worker at exactly interval x liveness', async () => {
    const clock = new ManualClock();
    const queue = track(
      await ParanoidPirateQueue.start({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*', clock }),
    );
    const worker = track(rawDealer(queue.endpoints.backend));
    await worker.send([Buffer.from([0x01])]); // seen at t = 0
    await eventually(() => queue.workers.ready === 1);
    await worker.expectNothing(50); // no heartbeat before the first interval
    clock.advance(1000);
    expect((await worker.receive(1000)).map((f) => f.toString('hex'))).toEqual(['02']);
    clock.advance(1999); // t = 2999: one ms short of 3 x 1000
    expect(queue.workers.ready).toBe(1);
    expect(queue.stats.expiredWorkers).toBe(0);
    clock.advance(1); // t = 3000: the tick purges it
    expect(queue.stats.expiredWorkers).toBe(1);
    expect(queue.workers.ready).toBe(0);
  });
});

describe('ParanoidPirateWorker timing (ManualClock)', () => {
  it('follows the book: heartbeat each second, dead after 3 s of silence, reconnect after 1, 2, 4, 8, 16, 32, 32 s', async () => {
    const clock = new ManualClock();
    const router = track(await rawRouter());
    const worker = track(new ParanoidPirateWorker({ queue: router.endpoint, handler: (body) => body, clock }));
    await worker.start();
    const status = worker.status();
    const ready = await router.receive(1000);
    expect(isReady(ready)).toBe(true);
    await router.send([ready[0] as Buffer, Buffer.from([0x02])]); // the queue answers at t = 0
    await eventually(() => worker.connected);
    clock.advance(1000);
    const beat = await router.receive(1000);
    expect(beat.map((f) => f.toString('hex'))).toEqual([ready[0]?.toString('hex'), '02']);
    clock.advance(1999); // t = 2999
    expect(worker.connected).toBe(true);
    clock.advance(1); // t = 3000
    expect(worker.connected).toBe(false);
    expect(await status.next()).toMatchObject({ value: { type: 'connected', peer: router.endpoint, session: 1 } });
    expect(await status.next()).toMatchObject({
      value: { type: 'disconnected', peer: router.endpoint, reason: 'silent', silentMs: 3000, session: 1 },
    });

    const delays: number[] = [];
    const ids = new Set<string>([ready[0]?.toString('hex') ?? '']);
    for (let round = 0; round < 7; round++) {
      const events: (ParanoidPirateWorkerStatus | ComponentStatus)[] = [];
      for (;;) {
        const next = await status.next();
        if (next.done === true) throw new Error('status ended');
        events.push(next.value);
        if (next.value.type === 'reconnecting') break;
      }
      const scheduled = events.at(-1);
      if (scheduled?.type !== 'reconnecting') throw new Error('unreachable');
      delays.push(scheduled.delayMs);
      clock.advance(scheduled.delayMs - 1);
      expect(worker.stats.reconnects).toBe(round);
      clock.advance(1); // new socket, READY again
      expect(worker.stats.reconnects).toBe(round + 1);
      const again = await router.receiveMatching(isReady, 1000);
      ids.add(again[0]?.toString('hex') ?? '');
      clock.advance(3000); // silence again
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 32000]);
    expect(ids.size).toBe(8); // every READY came from a new socket
  });
});
