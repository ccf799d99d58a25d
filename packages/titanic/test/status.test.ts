/**
 * The status feeds of the Titanic server, client and stores, on real sockets and a real
 * PostgreSQL process:
 *
 *   TitanicClient ──> Broker (closed, or an mdbroker process killed, then back on the same ipc endpoint) <── TitanicServer ──> PostgresStore
 *                                                                                                        │
 *                                                                          PostgreSQL (halted, then resumed)
 *
 * - server: `disconnected` when the broker goes, `connected` once every worker has heard from it
 *   again; `unhealthy` when PostgreSQL stops, `healthy` when it answers again; `saturated` /
 *   `drained` around `maxBacklog`;
 * - client: `disconnected` (silent) when a call runs out of attempts, `connected` at the next answer.
 */
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constantBackoff } from '@zpatterns/core';
import { Broker, MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, Daemon, mountSmallDisk, usePostgres, useDisposables } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';
import {
  MemoryStore,
  PostgresStore,
  SqliteStore,
  TitanicClient,
  TitanicServer,
  type TitanicServerOptions,
} from '../src/index.js';
import { generateUuid } from '../src/protocol.js';

const HEARTBEAT_MS = 100;
const { track, defer } = useDisposables();
const postgres = usePostgres();

/** Reads `feed` until an event of `type` comes (and returns it), failing after `timeoutMs`. */
async function next<T extends { type: string }>(
  feed: AsyncIterator<T>,
  type: T['type'],
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no '${type}' event within ${timeoutMs} ms`)), deadline - Date.now());
    });
    const result = await Promise.race([feed.next(), timeout]).finally(() => clearTimeout(timer));
    if (result.done === true) throw new Error(`feed ended before a '${type}' event`);
    if (result.value.type === type) return result.value;
  }
}

function ipcEndpoint(): string {
  const dir = mkdtempSync(join(tmpdir(), 'titanic-status-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return `ipc://${dir}/broker`;
}

function serverOptions(broker: string, options: Partial<TitanicServerOptions> = {}): TitanicServerOptions {
  return {
    broker,
    store: new MemoryStore(),
    heartbeatIntervalMs: HEARTBEAT_MS,
    liveness: 3,
    requestWorkers: 2,
    replyWorkers: 1,
    dispatchTimeoutMs: 1000,
    retryDelay: constantBackoff(100),
    serviceRetryDelay: constantBackoff(100),
    reconnectDelay: constantBackoff(100),
    ...options,
  };
}

describe('TitanicServer status feed', () => {
  it('disconnected when the broker goes away, connected once every worker is registered again', async () => {
    const endpoint = ipcEndpoint();
    let broker = await Broker.start({ bind: endpoint, heartbeatIntervalMs: HEARTBEAT_MS });
    defer(() => broker.close());
    const server = new TitanicServer(serverOptions(endpoint));
    const feed = server.status();
    track(server);
    await server.start();
    await next(feed, 'started');
    expect(await next(feed, 'connected')).toEqual({ type: 'connected', peer: endpoint, session: 1 });

    await broker.close();
    const gone = await next(feed, 'disconnected');
    expect(gone).toMatchObject({ peer: endpoint, session: 1 });
    expect(['silent', 'disconnect']).toContain((gone as { reason: string }).reason);

    broker = await Broker.start({ bind: endpoint, heartbeatIntervalMs: HEARTBEAT_MS });
    expect(await next(feed, 'connected')).toEqual({ type: 'connected', peer: endpoint, session: 2 });
    await server.close();
    expect(await next(feed, 'closed')).toEqual({ type: 'closed' });
  }, 60_000);

  it('disconnected (silent) when the broker process is killed, connected once it is back', async () => {
    const endpoint = ipcEndpoint();
    const broker = await Daemon.start({
      bin: appBin('mdbroker'),
      args: ['--bind', endpoint, '--heartbeat-ms', String(HEARTBEAT_MS)],
    });
    defer(() => broker.stop());
    const server = new TitanicServer(serverOptions(endpoint));
    const feed = server.status();
    track(server);
    await server.start();
    await next(feed, 'connected');

    const lost = server.waitFor('disconnected', { timeoutMs: 20_000 });
    await broker.kill('SIGKILL');
    const gone = await lost;
    expect(gone).toMatchObject({ type: 'disconnected', peer: endpoint, reason: 'silent' });
    expect(gone.silentMs).toBeGreaterThanOrEqual(HEARTBEAT_MS * 2);

    const back = server.waitFor('connected', { timeoutMs: 20_000 });
    await broker.restart();
    expect(await back).toEqual({ type: 'connected', peer: endpoint, session: 2 });
    // Served again through the new broker process.
    const client = track(await TitanicClient.start({ broker: endpoint, attemptTimeoutMs: 5000 }));
    await client.submit('echo', ['after the restart']);
  }, 60_000);

  it('saturated when submissions start to be refused, drained when one is accepted again', async () => {
    const endpoint = ipcEndpoint();
    track(await Broker.start({ bind: endpoint, heartbeatIntervalMs: HEARTBEAT_MS }));
    const server = new TitanicServer(serverOptions(endpoint, { maxBacklog: 2 }));
    const feed = server.status();
    track(server);
    await server.start();
    const client = track(await TitanicClient.start({ broker: endpoint, pollIntervalMs: 20, maxPollIntervalMs: 100 }));
    const uuids = [await client.submit('echo', ['1']), await client.submit('echo', ['2'])];
    await expect(client.submit('echo', ['3'])).rejects.toMatchObject({ code: 'ERR_TITANIC_SERVER' });
    expect(await next(feed, 'saturated')).toEqual({ type: 'saturated', queued: 2, limit: 2 });

    track(await MajordomoWorker.start({ broker: endpoint, service: 'echo', handler: (body) => body }));
    for (const uuid of uuids) await client.waitReply(uuid, { timeoutMs: 20_000 });
    await expect.poll(() => server.pending, { timeout: 20_000 }).toBe(0);
    await client.submit('echo', ['4']);
    expect(await next(feed, 'drained')).toMatchObject({ type: 'drained' });
  }, 60_000);

  it.skipIf(!postgres.available)(
    'unhealthy when PostgreSQL stops, healthy when it answers again (relayed from the store)',
    async () => {
      const endpoint = ipcEndpoint();
      track(await Broker.start({ bind: endpoint, heartbeatIntervalMs: HEARTBEAT_MS }));
      const cluster = postgres.cluster();
      const store = new PostgresStore({
        url: cluster.url,
        schema: `st${process.pid}`,
        connectTimeoutMs: 1000,
        reconnectDelay: constantBackoff(100),
      });
      const storeFeed = store.status();
      const server = new TitanicServer(serverOptions(endpoint, { store, replyRetentionMs: 0 }));
      const feed = server.status();
      track(server);
      await server.start();
      expect(server.healthy).toBe(true);
      const client = track(await TitanicClient.start({ broker: endpoint, attemptTimeoutMs: 3000, retries: 0 }));
      await client.submit('echo', ['before']);

      await cluster.halt();
      let resumed = false;
      defer(async () => {
        if (!resumed) await cluster.resume();
      });
      // A submission meets the stopped database: answered "500", and the store says so.
      await expect(client.submit('echo', ['during'])).rejects.toMatchObject({ code: 'ERR_TITANIC_SERVER' });
      const unhealthy = await next(feed, 'unhealthy');
      expect((unhealthy as { error: unknown }).error).toBeInstanceOf(Error);
      expect((unhealthy as { reason: unknown }).reason).toEqual(expect.any(String));
      expect(await next(storeFeed, 'unhealthy')).toMatchObject({ type: 'unhealthy' });
      expect(server.healthy).toBe(false);

      await cluster.resume();
      resumed = true;
      // No traffic needed: the store's probe finds the database again.
      expect(await next(feed, 'healthy')).toEqual({ type: 'healthy' });
      expect(await next(storeFeed, 'healthy')).toEqual({ type: 'healthy' });
      expect(server.healthy).toBe(true);
      await client.submit('echo', ['after']);
    },
    90_000,
  );
});

describe('TitanicClient status feed', () => {
  it('connected at the first answer', async () => {
    const endpoint = ipcEndpoint();
    track(await Broker.start({ bind: endpoint, heartbeatIntervalMs: HEARTBEAT_MS }));
    track(await TitanicServer.start(serverOptions(endpoint)));
    const client = track(await TitanicClient.start({ broker: endpoint, attemptTimeoutMs: 5000 }));
    const heard = client.waitFor('connected', { timeoutMs: 20_000 });
    await client.submit('echo', ['x']);
    expect(await heard).toEqual({ type: 'connected', peer: endpoint });
  }, 60_000);

  it('disconnected (silent) when a call runs out of attempts, connected at the next answer', async () => {
    const endpoint = ipcEndpoint();
    track(await Broker.start({ bind: endpoint, heartbeatIntervalMs: HEARTBEAT_MS }));
    const client = new TitanicClient({ broker: endpoint, attemptTimeoutMs: 200, retries: 0 });
    const feed = client.status();
    track(client);
    await client.start();
    // No Titanic behind the broker yet.
    await expect(client.submit('echo', ['x'])).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    const dead = await next(feed, 'disconnected');
    expect(dead).toMatchObject({ peer: endpoint, reason: 'silent' });
    expect((dead as { silentMs: number }).silentMs).toBeGreaterThanOrEqual(150);
    expect(client.stats.timeouts).toBe(1);

    track(await TitanicServer.start(serverOptions(endpoint)));
    const uuid = await client.submit('echo', ['x'], { attemptTimeoutMs: 5000 });
    expect(await next(feed, 'connected')).toEqual({ type: 'connected', peer: endpoint });
    expect(client.stats).toMatchObject({ submitted: 1, timeouts: 1 });
    await client.closeRequest(uuid);
    await client.close();
    expect(await next(feed, 'closed')).toEqual({ type: 'closed' });
  }, 60_000);
});

/** A 2 MB tmpfs for a disk that fills up (see `mountSmallDisk`: skipped without root, never in CI). */
function smallDisk(): string | undefined {
  const disk = mountSmallDisk(2);
  if (disk === undefined) return undefined;
  defer(() => disk.unmount());
  return disk.path;
}

describe('SqliteStore status feed', () => {
  it('unhealthy when a commit fails on a full disk, healthy once the probe commits again', async (ctx) => {
    const disk = smallDisk();
    if (disk === undefined) return ctx.skip();
    const store = track(new SqliteStore({ dataDir: join(disk, 'data'), healthProbeMs: 50 }));
    const feed = store.status();
    await store.start();
    const filler = join(disk, 'filler');
    const fd = openSync(filler, 'w');
    try {
      for (;;) writeSync(fd, Buffer.alloc(64 * 1024));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      closeSync(fd);
    }
    const big = Buffer.alloc(256 * 1024, 1);
    await expect(
      store.write([{ type: 'request', uuid: generateUuid(), service: Buffer.from('s'), body: [big] }]),
    ).rejects.toMatchObject({ code: 'ERR_TITANIC_STORE' });
    expect(await next(feed, 'unhealthy')).toMatchObject({ type: 'unhealthy' });
    expect(store.healthy).toBe(false);
    unlinkSync(filler);
    // No traffic: the store's probe commits and reports the disk back.
    expect(await next(feed, 'healthy')).toEqual({ type: 'healthy' });
    expect(store.healthy).toBe(true);
  }, 30_000);
});
