/**
 * The book's pipelined workload against the Paranoid Pirate queue's default options: a client
 * pipelines 100,000 requests while no worker is there, so the whole lot waits in the queue's
 * backlog (bounded by bytes, 256 MiB by default: this is about 16 MiB); then one worker joins and
 * every request is answered, none refused.
 *
 *   DEALER ──100,000 × [""][body]──▶ ppqueue (backlog: 100,000 requests) ──▶ 1 PPP echo worker
 *   DEALER ◀──100,000 × [""][body]── ppqueue ◀──────────────────────────── (one at a time)
 */
import { ParanoidPirateQueue, ParanoidPirateWorker } from '@zpatterns/pirate';
import { eventually, rawDealer } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

const COUNT = 100_000;

describe('the book workload against default options', () => {
  it(
    '100,000 pipelined requests, all queued while no worker is there, all answered',
    { timeout: 120_000 },
    async () => {
      await using queue = await ParanoidPirateQueue.start({
        frontend: 'tcp://127.0.0.1:*',
        backend: 'tcp://127.0.0.1:*',
      });
      await using client = rawDealer(queue.endpoints.frontend);
      const empty = Buffer.alloc(0);
      const body = Buffer.from('Hello world');
      for (let i = 0; i < COUNT; i++) await client.send([empty, body]);
      await eventually(() => queue.stats.requests === COUNT, { timeoutMs: 60_000 });
      expect(queue.queued).toBe(COUNT);
      expect(queue.stats.refused).toBe(0);
      const backlogBytes = queue.queuedBytes;

      await using _worker = await ParanoidPirateWorker.start({
        queue: queue.endpoints.backend,
        handler: (request) => request,
      });
      let received = 0;
      while (received < COUNT) {
        const reply = await client.receive(20_000);
        expect(reply[1]?.equals(body)).toBe(true);
        received++;
      }
      expect(received).toBe(COUNT);
      expect(queue.stats).toMatchObject({ requests: COUNT, replies: COUNT, refused: 0 });
      expect(queue.queuedBytes).toBe(0);
      // 160 bytes each (96 + 5-byte ROUTER id + delimiter + 11-byte body + 16 per frame): 16 MB of
      // the 256 MiB default.
      expect(backlogBytes).toBe(COUNT * 160);
    },
  );
});
