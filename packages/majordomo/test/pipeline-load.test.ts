/**
 * The book's mdclient2 benchmark as a test: with default options everywhere, one client pipelines
 * 100,000 requests to `echo` through one worker and reads 100,000 replies. The broker's queue is
 * bounded by bytes (256 MiB by default), so the whole backlog waits there and nothing is dropped.
 *
 * One option is not the default: `requestTtlMs`. Its 30 s is a time budget, and the last of
 * 100,000 requests queued at once behind one worker waits for all the others: that needs more than
 * 3,300 round trips per second. On a loaded 2-core test machine (load average 12-30) this ran at
 * about 2,300/s and the last ~30,000 requests expired. The TTL is raised so that this test checks
 * the queue bound, not the machine's speed; the expiry itself is tested in broker.test.ts.
 *
 *   pipeline ──100,000 × REQUEST──▶ broker (queue: ~100k requests, a few MiB) ──▶ 1 echo worker
 *   pipeline ◀──100,000 × REPLY─── broker ◀──────────────────────────────────── (one at a time)
 */
import { Broker, MajordomoPipeline, MajordomoWorker } from '@zpatterns/majordomo';
import { describe, expect, it } from 'vitest';

const COUNT = 100_000;

describe('the book workload against default options', () => {
  it('100,000 pipelined requests through one worker all come back', { timeout: 120_000 }, async () => {
    await using broker = await Broker.start({ bind: 'tcp://127.0.0.1:*', requestTtlMs: 600_000 });
    const endpoint = broker.endpoints.clients[0] as string;
    await using worker = new MajordomoWorker({ broker: endpoint, service: 'echo', handler: (request) => request });
    await worker.start();
    await using pipeline = await MajordomoPipeline.start({ broker: endpoint });
    const body = Buffer.from('Hello world');
    for (let i = 0; i < COUNT; i++) pipeline.send('echo', body);
    let received = 0;
    while (received < COUNT) {
      const reply = await pipeline.recv({ timeoutMs: 20_000 });
      if (reply === null) break;
      received++;
    }
    expect(received).toBe(COUNT);
    expect(broker.stats.refused).toBe(0);
    expect(broker.stats.droppedRequests).toBe(0);
    expect(broker.stats.expiredRequests).toBe(0);
    expect(broker.gauges().queuedBytes).toBe(0);
  });
});
