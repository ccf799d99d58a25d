/**
 * Titanic's own DEALERs to the broker (its TSP workers and the dispatcher's client) take no message
 * larger than a broker would accept itself (256 frames, 16 MiB): behind a broker configured with
 * looser limits, an oversize request to a TSP worker and an oversize reply from a service are
 * dropped, warned about and counted (`stats.oversize`), and Titanic goes on serving. Given the
 * broker's looser bound (`maxFramesPerMessage`), the same messages pass.
 *
 *   MajordomoClient ──titanic.request [echo, 300 frames]──> Broker (limit 1024) ──> Titanic worker: dropped
 *   TitanicClient ──submit big──> Titanic ──dispatch──> Broker ──> "big" worker ──[300 frames]──> Titanic client: dropped
 */
import { Writable } from 'node:stream';
import { constantBackoff } from '@zpatterns/core';
import { Broker, MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { eventually, useDisposables } from '@zpatterns/testkit';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryStore, TitanicClient, TitanicServer } from '../src/index.js';

const HEARTBEAT_MS = 100;
const FRAMES = 300;
const frames = (n: number): string[] => Array.from({ length: n }, (_, i) => `f${i}`);

describe('Titanic frame limits on its DEALERs to the broker', () => {
  const { track } = useDisposables();

  it('drops an oversize request to a TSP worker and an oversize service reply, warns, counts, and keeps serving', async () => {
    const warnings: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) {
          if (line === '') continue;
          const entry = JSON.parse(line) as { level: number; msg: string };
          if (entry.level >= 40) warnings.push(entry.msg);
        }
        done();
      },
    });
    const broker = track(
      await Broker.start({
        bind: 'tcp://127.0.0.1:*',
        heartbeatIntervalMs: HEARTBEAT_MS,
        maxFramesPerMessage: 1024,
      }),
    );
    const endpoint = broker.endpoints.clients[0] ?? '';
    const server = track(
      await TitanicServer.start({
        broker: endpoint,
        store: new MemoryStore(),
        heartbeatIntervalMs: HEARTBEAT_MS,
        requestWorkers: 2,
        replyWorkers: 1,
        dispatchTimeoutMs: 500,
        retryDelay: constantBackoff(200),
        serviceRetryDelay: constantBackoff(100),
        reconnectDelay: constantBackoff(100),
        logger: pino({ level: 'warn' }, sink),
      }),
    );
    const echo = track(
      await MajordomoWorker.start({
        broker: endpoint,
        service: 'echo',
        heartbeatIntervalMs: HEARTBEAT_MS,
        handler: (b) => b,
      }),
    );
    const big = track(
      await MajordomoWorker.start({
        broker: endpoint,
        service: 'big',
        heartbeatIntervalMs: HEARTBEAT_MS,
        handler: () => frames(FRAMES),
      }),
    );
    const raw = track(await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 1000, retries: 0 }));
    const client = track(
      await TitanicClient.start({
        broker: endpoint,
        attemptTimeoutMs: 2000,
        pollIntervalMs: 20,
        maxPollIntervalMs: 100,
      }),
    );

    // To a TSP worker: a submission of 301 frames is dropped unanswered (never stored, never "200").
    await expect(raw.request('titanic.request', ['echo', ...frames(FRAMES)])).rejects.toMatchObject({
      code: 'ERR_TIMEOUT',
    });
    expect(server.stats.oversize).toBe(1);
    expect(server.stats.submitted).toBe(0);
    // The worker that dropped it registered again: both TSP request workers still take submissions.
    for (let i = 0; i < 4; i++)
      expect((await client.call('echo', [`ok-${i}`], { timeoutMs: 10_000 }))[0]?.toString()).toBe(`ok-${i}`);

    // From a service: its 300-frame reply to the dispatcher's client is dropped; the dispatch
    // times out and is retried, and no reply is stored.
    const uuid = await client.submit('big', ['x']);
    await eventually(() => server.stats.oversize >= 3 && server.stats.dispatch.timeouts >= 2, {
      timeoutMs: 10_000,
      what: 'two oversize replies dropped',
    });
    expect(await client.poll(uuid)).toEqual({ status: 'pending' });
    expect(big.stats.replies).toBeGreaterThanOrEqual(2);
    expect(server.stats.dispatch.replies).toBe(4);
    expect(warnings.filter((m) => m === 'oversize message from the broker dropped').length).toBeGreaterThanOrEqual(3);
    // And Titanic is still serving.
    expect((await client.call('echo', ['still'], { timeoutMs: 10_000 }))[0]?.toString()).toBe('still');
    expect(echo.stats.replies).toBeGreaterThanOrEqual(5);
  });

  it("takes the broker's looser bound when given it (maxFramesPerMessage): the same request and reply pass", async () => {
    const broker = track(
      await Broker.start({ bind: 'tcp://127.0.0.1:*', heartbeatIntervalMs: HEARTBEAT_MS, maxFramesPerMessage: 1024 }),
    );
    const endpoint = broker.endpoints.clients[0] ?? '';
    const server = track(
      await TitanicServer.start({
        broker: endpoint,
        store: new MemoryStore(),
        heartbeatIntervalMs: HEARTBEAT_MS,
        requestWorkers: 1,
        replyWorkers: 1,
        reconnectDelay: constantBackoff(100),
        maxFramesPerMessage: 1024,
      }),
    );
    track(
      await MajordomoWorker.start({
        broker: endpoint,
        service: 'big',
        heartbeatIntervalMs: HEARTBEAT_MS,
        handler: (b) => [...b, ...frames(FRAMES)],
        maxFramesPerMessage: 1024,
      }),
    );
    const client = track(
      await TitanicClient.start({
        broker: endpoint,
        pollIntervalMs: 20,
        maxPollIntervalMs: 100,
        maxFramesPerMessage: 1024,
      }),
    );
    const reply = await client.call('big', frames(FRAMES), { timeoutMs: 10_000 });
    expect(reply).toHaveLength(2 * FRAMES);
    expect(server.stats.oversize).toBe(0);
  });
});
