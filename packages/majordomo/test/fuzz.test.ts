/**
 * 10,000 random messages, mostly garbage with real MDP headers and command bytes mixed in, from
 * several peers: the broker logs (rate-limited), counts and drops what is malformed, never throws
 * out of its loop, and serves a real request afterwards. Seeds are fixed so a failure replays.
 */
import { eventually, rawDealer, randomMessage, seededRandom } from '@zpatterns/testkit';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { b, RawClient, RawWorker, startBroker } from './broker-peers.js';

const VOCABULARY = [
  b(''),
  b('MDPC01'),
  b('MDPW01'),
  b('MDPC02'),
  b('MDPW02'),
  ...[1, 2, 3, 4, 5, 6].map((n) => Buffer.from([n])),
  b('echo'),
  b('mmi.service'),
  b('mmi.services'),
  b('mmi.workers'),
  b('mmi.x'),
];

describe('Broker fuzzing', () => {
  it('10k random messages leave the broker serving, with bounded logging', async () => {
    const lines: { msg?: string }[] = [];
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => void lines.push(JSON.parse(line) as { msg?: string }) },
    );
    await using ctx = await startBroker({ heartbeatIntervalMs: 50, logger, maxWarningsPerSecond: 5 });
    const started = Date.now();
    const peers = Array.from({ length: 5 }, () => rawDealer(ctx.endpoint));
    try {
      const random = seededRandom(0x5eed);
      let sent = 0;
      for (let i = 0; i < 10_000; i++) {
        const message = randomMessage(random, VOCABULARY);
        if (message.length === 0) message.push(b(''));
        await (peers[i % peers.length] as (typeof peers)[number]).send(message);
        sent++;
      }
      expect(sent).toBe(10_000);
      await using worker = await RawWorker.ready(ctx.endpoint, 'after-fuzz');
      await using client = new RawClient(ctx.endpoint);
      const reply = client.call('after-fuzz', ['still serving'], 10_000);
      await worker.echoOnce(10_000);
      expect(await reply).toEqual(['still serving']);
      // Every fuzz message was read (READY, the request and the REPLY on top), none killed the loop.
      await eventually(() => ctx.broker.stats.received === 10_000 + 3, { timeoutMs: 20_000 });
      const stats = ctx.broker.stats;
      expect(stats.malformed).toBeGreaterThan(5000);
      // Rate-limited: in each second, at most maxWarningsPerSecond lines from each of the broker's
      // two peer-triggered limiters (client and worker messages) and one from its overload
      // limiter, each plus one line saying how many it suppressed.
      const seconds = Math.ceil((Date.now() - started) / 1000);
      expect(lines.length).toBeLessThanOrEqual(seconds * (5 + 1 + 5 + 1 + 1 + 1));
    } finally {
      await Promise.all(peers.map((p) => p.close()));
    }
  }, 60_000);
});
