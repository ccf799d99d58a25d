/**
 * The shared lifecycle of the Titanic server, client and stores, on real sockets (a Majordomo
 * broker): new opens nothing, start/close idempotent, `closed()`, `await using`, calls before
 * `start()`, and the per-call `{ timeoutMs, signal }` of `submit()`, `waitReply()` and `call()`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constantBackoff, InvalidArgumentError } from '@zpatterns/core';
import { Broker } from '@zpatterns/majordomo';
import { expectClosesOnce, useDisposables } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';
import {
  MemoryStore,
  SqliteStore,
  TitanicClient,
  TitanicServer,
  type TitanicServerOptions,
  type TitanicStore,
} from '../src/index.js';

const HEARTBEAT_MS = 100;
const { track, defer } = useDisposables();

async function startBroker(): Promise<string> {
  const broker = track(await Broker.start({ bind: 'tcp://127.0.0.1:*', heartbeatIntervalMs: HEARTBEAT_MS }));
  return broker.endpoints.clients[0] ?? '';
}

function titanic(broker: string, store: TitanicStore = new MemoryStore()): TitanicServer {
  return new TitanicServer({
    broker,
    store,
    heartbeatIntervalMs: HEARTBEAT_MS,
    requestWorkers: 2,
    replyWorkers: 1,
    dispatchTimeoutMs: 1000,
    retryDelay: constantBackoff(200),
    serviceRetryDelay: constantBackoff(100),
    reconnectDelay: constantBackoff(200),
  });
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'titanic-life-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('Titanic lifecycle', () => {
  it('TitanicServer: new opens nothing, start() starts its store, closes once', async () => {
    const dataDir = tempDir();
    const store = new SqliteStore({ dataDir });
    const server = titanic(await startBroker(), store);
    expect(server.lifecycle).toBe('new');
    expect(store.lifecycle).toBe('new');
    expect(server.healthy).toBe(false);
    await server.start();
    expect(server.start()).toBe(server.start());
    expect(store.running).toBe(true);
    expect(server.healthy).toBe(true);
    expect(server.stats.recovered).toBe(0);
    await expectClosesOnce(server);
    expect(store.lifecycle).toBe('closed');
  });

  it('TitanicServer: the store is required (no default place to write under the working directory)', () => {
    const options = { broker: 'tcp://127.0.0.1:5555' } as TitanicServerOptions;
    expect(() => new TitanicServer(options)).toThrow(InvalidArgumentError);
    expect(() => new TitanicServer(options)).toThrow(
      'TitanicServer: store must be a TitanicStore (e.g. SqliteStore, PostgresStore), got undefined',
    );
  });

  it('bad options throw InvalidArgumentError in the one message style; undefined keeps the default', () => {
    const broker = 'tcp://127.0.0.1:5555';
    const store = new MemoryStore();
    expect(() => new TitanicServer({ broker, store, requestWorkers: 0 })).toThrow(
      'TitanicServer: requestWorkers must be a whole number > 0, got 0',
    );
    expect(() => new TitanicServer({ broker, store, dispatchTimeoutMs: -1 })).toThrow(
      'TitanicServer: dispatchTimeoutMs must be a finite number > 0, got -1',
    );
    expect(() => new TitanicServer({ broker, store, liveness: undefined, reconnectDelay: undefined })).not.toThrow();
    expect(() => new TitanicClient({ broker, pollIntervalMs: 0 })).toThrow(
      'TitanicClient: pollIntervalMs must be a finite number > 0, got 0',
    );
    expect(() => new TitanicClient({ broker, timeoutMs: 0 })).toThrow(
      'TitanicClient: timeoutMs must be a number > 0 (or Infinity), got 0',
    );
    expect(() => new TitanicClient({ broker, maxPollIntervalMs: undefined })).not.toThrow();
  });

  it('TitanicServer.start() accepts a store already started, and static start(options, { timeoutMs }) does new + start', async () => {
    const store = await MemoryStore.start();
    const server = track(
      await TitanicServer.start(
        { broker: await startBroker(), store, heartbeatIntervalMs: HEARTBEAT_MS },
        { timeoutMs: 10_000 },
      ),
    );
    expect(server.running).toBe(true);
    expect(server.store).toBe(store);
  });

  it('TitanicClient: calls before start() reject with ERR_NOT_STARTED, after close() with ERR_CLOSED', async () => {
    const client = new TitanicClient({ broker: await startBroker() });
    await expect(client.submit('echo', ['x'])).rejects.toMatchObject({ code: 'ERR_NOT_STARTED' });
    await expect(client.waitReply('0'.repeat(32))).rejects.toMatchObject({ code: 'ERR_NOT_STARTED' });
    await client.start();
    await expectClosesOnce(client);
    await expect(client.submit('echo', ['x'])).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect(client.closeRequest('0'.repeat(32))).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect((client.closeRequest as (uuid?: string) => Promise<void>)()).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
  });

  it('MemoryStore and SqliteStore: new opens nothing, calls before start() reject, close once', async () => {
    const dataDir = join(tempDir(), 'not-yet');
    for (const store of [new MemoryStore(), new SqliteStore({ dataDir })]) {
      await expect(store.get('0'.repeat(32))).rejects.toMatchObject({ code: 'ERR_NOT_STARTED' });
      await store.start();
      await expectClosesOnce(store);
      await expect(store.get('0'.repeat(32))).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    }
    let kept: SqliteStore | undefined;
    {
      await using store = await SqliteStore.start({ dataDir });
      kept = store;
    }
    await expect(kept.closed()).resolves.toBeUndefined();
  });

  it('await using closes the server and the client', async () => {
    const broker = await startBroker();
    let kept: { closed(): Promise<unknown> }[] = [];
    {
      const server = titanic(broker);
      await server.start();
      await using s = server;
      await using client = await TitanicClient.start({ broker });
      kept = [s, client];
    }
    for (const target of kept) await expect(target.closed()).resolves.toBeUndefined();
  });

  it('timeoutMs bounds each call as a whole (TimeoutError), a signal aborts it (AbortError)', async () => {
    const broker = await startBroker();
    const server = track(titanic(broker));
    await server.start();
    const client = track(await TitanicClient.start({ broker, attemptTimeoutMs: 5000 }));
    const uuid = await client.submit('nobody', ['x']);

    await expect(client.waitReply(uuid, { timeoutMs: 300 })).rejects.toMatchObject({
      name: 'TimeoutError',
      code: 'ERR_TIMEOUT',
    });
    // call(): the whole flow (submit, wait, close) within timeoutMs.
    const started = performance.now();
    await expect(client.call('nobody', ['y'], { timeoutMs: 500 })).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    // Within its 500 ms, plus 1 s for scheduling on a loaded machine.
    expect(performance.now() - started).toBeLessThan(500 + 1000);
    const controller = new AbortController();
    const waiting = client.waitReply(uuid, { signal: controller.signal });
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError', code: 'ERR_ABORTED', cause: reason });
    const aborted = AbortSignal.abort(reason);
    await expect(client.call('nobody', ['z'], { signal: aborted })).rejects.toMatchObject({ code: 'ERR_ABORTED' });

    // A broker with no Titanic behind it: submit() waits, then gives up as told.
    const lonely = track(await TitanicClient.start({ broker: await startBroker(), attemptTimeoutMs: 60_000 }));
    await expect(lonely.submit('echo', ['x'], { timeoutMs: 100 })).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    await expect(lonely.submit('echo', ['x'], { attemptTimeoutMs: 100, retries: 0 })).rejects.toMatchObject({
      code: 'ERR_TIMEOUT',
      attempts: 1,
    });
    const early = new AbortController();
    const submitting = lonely.submit('echo', ['x'], { signal: early.signal });
    early.abort(reason);
    await expect(submitting).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });
});
