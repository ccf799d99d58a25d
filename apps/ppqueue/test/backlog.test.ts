/**
 * ppqueue's backlog bound as a running process: with no worker and `--max-queued-bytes` room for
 * two requests, four clients ask; two are queued, two refused, and the metrics say so.
 *
 *   4 × REQ ──▶ ppqueue --max-queued-bytes 400 (no worker) ◀──GET /metrics── test
 */
import { appBin, Daemon, eventually, rawRequest } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
}

describe('ppqueue --max-queued-bytes', () => {
  it('refuses new requests past the bound, keeps the accepted ones, counts and logs the refusals', async () => {
    await using queue = await Daemon.start({
      bin: appBin('ppqueue'),
      args: [
        '--frontend',
        'tcp://127.0.0.1:*',
        '--backend',
        'tcp://127.0.0.1:*',
        '--max-queued-bytes',
        '400',
        '--metrics-port',
        '0',
      ],
    });
    const url = `${queue.ready['metrics'] as string}/metrics`;
    const clients = [1, 2, 3, 4].map(() => rawRequest(queue.ready['frontend'] as string));
    try {
      for (const [i, client] of clients.entries()) await client.send([`r${i}`]);
      const text = await eventually(async () => {
        const scraped = await (await fetch(url)).text();
        return value(scraped, 'zpatterns_ppqueue_requests_total') === 4 ? scraped : undefined;
      });
      expect(value(text, 'zpatterns_ppqueue_refused_total')).toBe(2);
      expect(value(text, 'zpatterns_ppqueue_queued_requests')).toBe(2);
      expect(value(text, 'zpatterns_ppqueue_queued_bytes')).toBeLessThanOrEqual(400);
      const warning = await queue.waitForLog(
        (l) => l.msg === 'queued bytes at maxQueuedBytes, new request refused',
        5000,
        true,
      );
      expect(warning).toMatchObject({ level: 40, maxQueuedBytes: 400 });
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
    expect(await queue.stop()).toEqual({ code: 0, signal: null });
  });
});
