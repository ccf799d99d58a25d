/**
 * The iterator rule, for each iterator the package exports (`client.stream()`, `pipe.replies()`):
 * `break` ends the loop quietly and cancels what the iterator started, without closing the
 * object; the caller's signal makes the pending `next()` reject with `AbortError`; closing the
 * object ends the loop quietly (`done: true`). The worker's iterator form (no `handler`) ends
 * quietly on close too, takes no signal, and `break` closes the worker (documented).
 *
 *   stream('slow')  ──REQUEST──▶ broker ──▶ worker: PARTIAL "one", then waits for the test's gate
 *   replies()       ◀──REPLY────  broker ◀── echo worker
 */
import { AbortError, type Frame } from '@zpatterns/core';
import { eventually, useDisposables } from '@zpatterns/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker, MajordomoClient, MajordomoPipeline, MajordomoWorker } from '../src/index.js';

const { track } = useDisposables();
const HB = { heartbeatIntervalMs: 100, liveness: 3 } as const;

/** Handlers waiting on the gate are let go after each test, so the workers close at once. */
let release: () => void = () => undefined;
afterEach(() => {
  release();
});

async function setup(): Promise<string> {
  const broker = track(await Broker.start({ bind: 'tcp://127.0.0.1:*', ...HB }));
  const endpoint = broker.endpoints.clients[0] as string;
  const gate = new Promise<void>((resolve) => (release = resolve));
  track(
    await MajordomoWorker.start({
      broker: endpoint,
      service: 'slow',
      version: '0.2',
      ...HB,
      handler: async (_body, ctx): Promise<Frame> => {
        ctx.partial('one');
        await gate;
        return 'final';
      },
    }),
  );
  track(
    await MajordomoWorker.start({ broker: endpoint, service: 'echo', version: '0.2', ...HB, handler: (body) => body }),
  );
  return endpoint;
}

async function startClient(endpoint: string): Promise<MajordomoClient> {
  return track(await MajordomoClient.start({ broker: endpoint, version: '0.2', attemptTimeoutMs: 10_000, retries: 0 }));
}

describe('MajordomoClient.stream()', () => {
  it('break ends the loop quietly and abandons the request; the client stays open', async () => {
    const client = await startClient(await setup());
    const seen: string[] = [];
    for await (const chunk of client.stream('slow', 'go')) {
      seen.push(chunk.body.toString());
      break;
    }
    expect(seen).toEqual(['one']);
    // The request was abandoned: counted, and its socket closed rather than kept for reuse.
    await eventually(() => client.stats.aborted === 1 && client.sockets.open === 0);
    expect(client.lifecycle).toBe('running');
    expect((await client.request('echo', 'still here')).toString()).toBe('still here');
  });

  it("the caller's signal makes the pending next() reject with AbortError", async () => {
    const client = await startClient(await setup());
    const controller = new AbortController();
    const stream = client.stream('slow', 'go', { signal: controller.signal });
    expect((await stream.next()).value?.body.toString()).toBe('one');
    const pending = stream.next();
    controller.abort(new Error('caller gave up'));
    await expect(pending).rejects.toBeInstanceOf(AbortError);
    expect(client.lifecycle).toBe('running');
  });

  it('closing the client ends the loop quietly', async () => {
    const client = await startClient(await setup());
    const stream = client.stream('slow', 'go');
    expect((await stream.next()).value?.body.toString()).toBe('one');
    const pending = stream.next();
    await client.close();
    await expect(pending).resolves.toEqual({ done: true, value: undefined });
  });
});

describe('MajordomoPipeline.replies()', () => {
  async function startPipeline(): Promise<MajordomoPipeline> {
    const endpoint = await setup();
    return track(await MajordomoPipeline.start({ broker: endpoint, version: '0.2' }));
  }

  it('break ends the loop quietly and leaves the pipeline open, its next reply readable', async () => {
    const pipe = await startPipeline();
    pipe.send('echo', 'a');
    pipe.send('echo', 'b');
    const seen: string[] = [];
    for await (const reply of pipe.replies()) {
      seen.push(reply.body.toString());
      break;
    }
    expect(seen).toHaveLength(1);
    expect(pipe.lifecycle).toBe('running');
    // No reader is left behind: a recv() of its own gets the other reply.
    const other = await pipe.recv({ timeoutMs: 5000 });
    expect([...seen, other.body.toString()].sort()).toEqual(['a', 'b']);
  });

  it("the caller's signal makes the pending next() reject with AbortError", async () => {
    const pipe = await startPipeline();
    const controller = new AbortController();
    const replies = pipe.replies({ signal: controller.signal });
    const pending = replies.next();
    controller.abort(new Error('caller gave up'));
    await expect(pending).rejects.toBeInstanceOf(AbortError);
    expect(pipe.lifecycle).toBe('running');
  });

  it('closing the pipeline ends the loop quietly', async () => {
    const pipe = await startPipeline();
    const replies = pipe.replies();
    const pending = replies.next();
    await pipe.close();
    await expect(pending).resolves.toEqual({ done: true, value: undefined });
  });
});

describe('MajordomoWorker iterator form', () => {
  async function iterated(): Promise<{ worker: MajordomoWorker; client: MajordomoClient }> {
    const endpoint = await setup();
    const worker = track(await MajordomoWorker.start({ broker: endpoint, service: 'iter', ...HB }));
    return { worker, client: await startClient(endpoint) };
  }

  it('closing the worker ends the loop quietly', async () => {
    const { worker } = await iterated();
    const requests = worker[Symbol.asyncIterator]();
    const pending = requests.next();
    await worker.close();
    await expect(pending).resolves.toEqual({ done: true, value: undefined });
  });

  it('break closes the worker: a registered worker that nobody reads would swallow requests', async () => {
    const { worker, client } = await iterated();
    const answered = client.request('iter', 'x');
    for await (const request of worker) {
      await request.reply(['it:', ...request.body]);
      break;
    }
    expect((await answered).map(String)).toEqual(['it:', 'x']);
    await expect(worker.closed()).resolves.toBeUndefined();
    expect(worker.lifecycle).toBe('closed');
  });
});
