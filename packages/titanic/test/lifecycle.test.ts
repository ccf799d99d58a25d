/**
 * The shared lifecycle of the Titanic server and client, on real sockets (a Majordomo broker and an
 * in-memory store): closing twice, `await using`, `closed()`, and the per-call `{ timeoutMs, signal }`
 * of `submit()` and `waitReply()`.
 */
import { constantBackoff } from '@zpatterns/core';
import { Broker } from '@zpatterns/majordomo';
import { useDisposables } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore, SqliteStore, TitanicClient, TitanicServer } from '../src/index.js';

const HEARTBEAT_MS = 100;
const { track, defer } = useDisposables();

/** TitanicClient's own end is `shutdown()`: its `close(uuid)` is the Titanic call. */
function trackClient(client: TitanicClient): TitanicClient {
  defer(() => client.shutdown());
  return client;
}

async function startBroker(): Promise<string> {
  const broker = track(await Broker.start({ bind: 'tcp://127.0.0.1:*', heartbeatIntervalMs: HEARTBEAT_MS }));
  return broker.endpoints[0] as string;
}

function titanic(broker: string): TitanicServer {
  return new TitanicServer({
    broker,
    store: new MemoryStore(),
    heartbeatIntervalMs: HEARTBEAT_MS,
    dispatchTimeoutMs: 1000,
    retryDelay: constantBackoff(200),
    serviceRetryDelay: constantBackoff(100),
    reconnect: constantBackoff(200),
  });
}

async function pendingAfterATurn(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  await new Promise((resolve) => setImmediate(resolve));
  return !settled;
}

describe('Titanic lifecycle', () => {
  it('TitanicServer: close twice, closed()', async () => {
    const server = titanic(await startBroker());
    await server.start();
    const closed = server.closed();
    expect(await pendingAfterATurn(closed)).toBe(true);
    const first = server.close();
    expect(server.close()).toBe(first);
    await expect(first).resolves.toBeUndefined();
    await expect(closed).resolves.toBeUndefined();
    await expect(server.closed()).resolves.toBeUndefined();
  });

  it('TitanicClient: shutdown twice, closed(); close(uuid) stays the Titanic call', async () => {
    const client = new TitanicClient({ broker: await startBroker() });
    const closed = client.closed();
    expect(await pendingAfterATurn(closed)).toBe(true);
    await expect(Promise.all([client.shutdown(), client.shutdown()])).resolves.toEqual([undefined, undefined]);
    await expect(client.shutdown()).resolves.toBeUndefined();
    await expect(closed).resolves.toBeUndefined();
    await expect(client.submit('echo', ['x'])).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect((client.close as (uuid?: string) => Promise<void>)()).rejects.toMatchObject({
      code: 'ERR_TITANIC_INVALID_UUID',
    });
  });

  it('MemoryStore and SqliteStore: close twice, closed(), await using', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'titanic-life-'));
    defer(() => rmSync(dataDir, { recursive: true, force: true }));
    for (const store of [new MemoryStore(), new SqliteStore({ dataDir })]) {
      const closed = store.closed();
      expect(await pendingAfterATurn(closed)).toBe(true);
      const first = store.close();
      expect(store.close()).toBe(first);
      await expect(first).resolves.toBeUndefined();
      await expect(closed).resolves.toBeUndefined();
      await expect(store.get('0'.repeat(32))).rejects.toMatchObject({ code: 'ERR_TITANIC_STORE' });
    }
    let kept: SqliteStore | undefined;
    {
      await using store = new SqliteStore({ dataDir });
      kept = store;
    }
    await expect(kept.closed()).resolves.toBeUndefined();
  });

  it('await using closes the server and the client', async () => {
    const broker = await startBroker();
    let kept: { closed(): Promise<unknown> }[] = [];
    {
      await using server = titanic(broker);
      await server.start();
      await using client = new TitanicClient({ broker });
      kept = [server, client];
    }
    for (const target of kept) await expect(target.closed()).resolves.toBeUndefined();
  });

  it('submit() and waitReply(): a per-call timeoutMs gives TimeoutError, a signal gives AbortError', async () => {
    const broker = await startBroker();
    const server = track(titanic(broker));
    await server.start();
    const client = trackClient(new TitanicClient({ broker, attemptTimeoutMs: 5000 }));
    const uuid = await client.submit('nobody', ['x']);

    await expect(client.waitReply(uuid, { timeoutMs: 300 })).rejects.toMatchObject({
      name: 'TimeoutError',
      code: 'ERR_TIMEOUT',
    });
    const controller = new AbortController();
    const waiting = client.waitReply(uuid, { signal: controller.signal });
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError', code: 'ERR_ABORTED' });

    // A broker with no Titanic behind it: submit() waits, then gives up as told.
    const lonely = trackClient(
      new TitanicClient({ broker: await startBroker(), attemptTimeoutMs: 60_000, retries: 0 }),
    );
    await expect(lonely.submit('echo', ['x'], { timeoutMs: 100, retries: 0 })).rejects.toMatchObject({
      code: 'ERR_TIMEOUT',
    });
    const early = new AbortController();
    const submitting = lonely.submit('echo', ['x'], { signal: early.signal });
    early.abort(reason);
    await expect(submitting).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });
});
