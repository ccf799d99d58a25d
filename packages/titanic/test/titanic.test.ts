/**
 * Titanic end to end on real sockets: a real Broker, the Titanic server, echo workers and the
 * TitanicClient, in one process (the crash tests with real processes live in apps/titanic).
 *
 *   TitanicClient ──titanic.*──> Broker ──> TitanicServer ──(store)──> Dispatcher ──> Broker ──> echo worker
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { pino } from 'pino';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constantBackoff, InvalidArgumentError } from '@zpatterns/core';
import { Broker, MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { eventually, postgresUrl, rawRequest } from '@zpatterns/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { generateUuid } from '../src/protocol.js';
import {
  MemoryStore,
  PostgresStore,
  SqliteStore,
  TitanicClient,
  TitanicServer,
  TitanicServerError,
  TitanicUnknownRequestError,
  type TitanicServerOptions,
  type TitanicStore,
} from '../src/index.js';

const HEARTBEAT_MS = 100;
const pgUrl = postgresUrl();
let schemas = 0;
/** A fresh schema per PostgreSQL store, so every test starts from an empty database. */
function freshSchema(): string {
  return `tt${process.pid}_${Date.now().toString(36)}_${schemas++}`;
}
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startBroker(): Promise<{ broker: Broker; endpoint: string }> {
  const broker = await Broker.start({
    bind: 'tcp://127.0.0.1:*',
    heartbeatIntervalMs: HEARTBEAT_MS,
    requestTtlMs: 2000,
  });
  const endpoint = broker.endpoints.clients[0] ?? '';
  cleanups.push(() => broker.close());
  return { broker, endpoint };
}

async function startTitanic(endpoint: string, options: Partial<TitanicServerOptions> = {}): Promise<TitanicServer> {
  const server = new TitanicServer({
    broker: endpoint,
    store: new MemoryStore(),
    heartbeatIntervalMs: HEARTBEAT_MS,
    requestWorkers: 4,
    replyWorkers: 2,
    dispatchTimeoutMs: 1000,
    retryDelay: constantBackoff(200),
    serviceRetryDelay: constantBackoff(100),
    reconnectDelay: constantBackoff(200),
    ...options,
  });
  cleanups.push(() => server.close());
  await server.start();
  return server;
}

function startEcho(endpoint: string, service = 'echo', seen?: string[]): MajordomoWorker {
  const worker = new MajordomoWorker({
    broker: endpoint,
    service,
    heartbeatIntervalMs: HEARTBEAT_MS,
    handler: (body) => {
      seen?.push(body.map((f) => f.toString('latin1')).join('|'));
      return body;
    },
  });
  void worker.start();
  cleanups.push(() => worker.close());
  return worker;
}

async function newClient(endpoint: string): Promise<TitanicClient> {
  const client = new TitanicClient({
    broker: endpoint,
    attemptTimeoutMs: 1000,
    retries: 3,
    pollIntervalMs: 20,
    maxPollIntervalMs: 100,
  });
  cleanups.push(() => client.close());
  await client.start();
  return client;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'titanic-it-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('Titanic over a real broker', () => {
  it('round trip: submit, wait for the reply, poll again (idempotent), close, then unknown', async () => {
    const { endpoint } = await startBroker();
    const server = await startTitanic(endpoint);
    startEcho(endpoint);
    const client = await newClient(endpoint);
    const body = [Buffer.from('Hello world'), Buffer.from([0, 1, 2, 255]), Buffer.alloc(0)];
    const uuid = await client.submit('echo', body);
    expect(uuid).toMatch(/^[0-9A-F]{32}$/);
    expect(await client.waitReply(uuid, { timeoutMs: 5000 })).toEqual(body);
    // titanic.reply must not consume the reply.
    expect(await client.poll(uuid)).toEqual({ status: 'ok', body });
    // Lower-case UUIDs name the same request.
    expect(await client.poll(uuid.toLowerCase())).toEqual({ status: 'ok', body });
    await client.closeRequest(uuid);
    await client.closeRequest(uuid); // idempotent
    expect(await client.poll(uuid)).toEqual({ status: 'unknown' });
    await expect(client.waitReply(uuid, { timeoutMs: 2000 })).rejects.toBeInstanceOf(TitanicUnknownRequestError);
    expect(server.stats).toMatchObject({ submitted: 1, closes: 2, malformed: 0, internalErrors: 0 });
    expect(server.pending).toBe(0);
  });

  it('refuses submissions with "500" beyond maxBacklog, counts them, and accepts again once the backlog drains', async () => {
    const { endpoint } = await startBroker();
    const server = await startTitanic(endpoint, { maxBacklog: 3 });
    const client = await newClient(endpoint);
    // 'echo' has no worker yet: every stored request stays pending.
    const uuids = [
      await client.submit('echo', ['1']),
      await client.submit('echo', ['2']),
      await client.submit('echo', ['3']),
    ];
    await expect(client.submit('echo', ['4'])).rejects.toBeInstanceOf(TitanicServerError);
    expect(server.stats).toMatchObject({ submitted: 3, refused: 1, internalErrors: 0 });
    expect(server.pending).toBe(3);
    startEcho(endpoint);
    for (const uuid of uuids) await client.waitReply(uuid, { timeoutMs: 10_000 });
    await eventually(() => server.pending === 0, { what: 'backlog drained' });
    expect(await client.call('echo', ['5'], { timeoutMs: 10_000 })).toEqual([Buffer.from('5')]);
  });

  it('answers "400" to unknown and malformed UUIDs, and malformed UUIDs never reach the store', async () => {
    const { endpoint } = await startBroker();
    const store = new MemoryStore();
    const server = await startTitanic(endpoint, { store });
    const client = await newClient(endpoint);
    const mdp = await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 1000, retries: 1 });
    cleanups.push(() => mdp.close());
    expect(await client.poll(generateUuid())).toEqual({ status: 'unknown' });
    const asText = (frames: Buffer[]): string[] => frames.map((f) => f.toString('latin1'));
    for (const bad of ['xyz', '../../etc/passwd', 'G'.repeat(32), '0'.repeat(33), '']) {
      expect(asText(await mdp.request('titanic.reply', [bad]))).toEqual(['400']);
      expect(asText(await mdp.request('titanic.close', [bad]))).toEqual(['400']);
    }
    expect(asText(await mdp.request('titanic.reply', ['0'.repeat(32), 'extra']))).toEqual(['400']);
    // A submission without a service name.
    expect(asText(await mdp.request('titanic.request', [Buffer.alloc(0)]))).toEqual(['400']);
    expect(store.stats.writes).toBe(0);
    expect(server.stats.malformed).toBe(12);
    await expect(client.poll('not-a-uuid')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.poll('not-a-uuid')).rejects.toThrow(
      'TitanicClient: uuid must be 32 hexadecimal characters, got "not-a-uuid"',
    );
  });

  it('stores a request for a service that has no worker yet and delivers it when one arrives', async () => {
    const { endpoint } = await startBroker();
    const server = await startTitanic(endpoint);
    const client = await newClient(endpoint);
    const uuid = await client.submit('late', ['patience']);
    expect(await client.poll(uuid)).toEqual({ status: 'pending' });
    // The dispatcher learns through mmi.service that there is no worker, and backs off.
    await eventually(() => server.stats.dispatch.noWorker >= 2, { timeoutMs: 5000, what: 'mmi.service probes' });
    expect(await client.poll(uuid)).toEqual({ status: 'pending' });
    const seen: string[] = [];
    startEcho(endpoint, 'late', seen);
    expect(await client.waitReply(uuid, { timeoutMs: 8000 })).toEqual([Buffer.from('patience')]);
    expect(seen).toContain('patience');
  });

  it('resumes unfinished requests after a restart on the same data directory', async () => {
    const { endpoint } = await startBroker();
    const dataDir = tempDir();
    const first = await startTitanic(endpoint, { store: new SqliteStore({ dataDir }) });
    const client = await newClient(endpoint);
    const uuids = await Promise.all(['a', 'b', 'c'].map((x) => client.submit('later', [x])));
    await first.close();
    const store: TitanicStore = new SqliteStore({ dataDir });
    const second = await startTitanic(endpoint, { store });
    expect(second.running).toBe(true);
    expect(second.stats.recovered).toBe(3);
    expect(second.pending).toBe(3);
    startEcho(endpoint, 'later');
    const replies = await Promise.all(uuids.map((u) => client.waitReply(u, { timeoutMs: 8000 })));
    expect(replies.map((r) => r.toString())).toEqual(['a', 'b', 'c']);
  });

  it("speaks the book's ticlient wire format on a plain REQ socket, byte for byte", async () => {
    const { endpoint } = await startBroker();
    await startTitanic(endpoint);
    startEcho(endpoint);
    // ticlient: mdcli_send on a REQ socket sends ["MDPC01", service, body...] (REQ adds the "").
    await using req = rawRequest(endpoint);
    const text = (frames: Buffer[]): string[] => frames.map((f) => f.toString('latin1'));
    await req.send(['MDPC01', 'titanic.request', 'echo', 'Hello world']);
    const submitted = await req.receive(3000);
    expect(text(submitted.slice(0, 3))).toEqual(['MDPC01', 'titanic.request', '200']);
    const uuid = submitted[3] as Buffer;
    expect(uuid.toString('latin1')).toMatch(/^[0-9A-F]{32}$/);
    expect(submitted).toHaveLength(4);
    let reply: Buffer[] = [];
    await eventually(
      async () => {
        await req.send(['MDPC01', 'titanic.reply', uuid]);
        reply = await req.receive(3000);
        return reply[2]?.toString() === '200';
      },
      { timeoutMs: 5000, what: 'reply ready' },
    );
    expect(text(reply)).toEqual(['MDPC01', 'titanic.reply', '200', 'Hello world']);
    await req.send(['MDPC01', 'titanic.close', uuid]);
    expect(text(await req.receive(3000))).toEqual(['MDPC01', 'titanic.close', '200']);
  });

  // Both stores: with SQLite the dispatcher queues everything in memory; with PostgreSQL it holds
  // only what it claimed, so a dead service's requests kept there would fill its claim room.
  const storesForStall: [string, () => Promise<TitanicStore>][] = [
    ['SQLite', () => SqliteStore.start({ dataDir: tempDir() })],
  ];
  // Listed everywhere, skipped where this machine has no PostgreSQL (never under CI=true).
  storesForStall.push([
    'PostgreSQL',
    () => PostgresStore.start({ url: pgUrl ?? '', schema: freshSchema(), maxConnections: 4 }),
  ]);
  it.for(storesForStall)(
    'a service with no worker does not hold up the others (per-service circuits, round-robin), on %s',
    async ([name, openStore], ctx) => {
      if (name === 'PostgreSQL' && pgUrl === undefined) return ctx.skip();
      const { endpoint } = await startBroker();
      const store = await openStore();
      cleanups.push(() => store.close());
      const server = await startTitanic(endpoint, { concurrency: 4, store, claimIntervalMs: 50, leaseMs: 5000 });
      startEcho(endpoint);
      const client = await newClient(endpoint);
      const dead = await Promise.all(Array.from({ length: 40 }, (_, i) => client.submit('nobody', [`d${i}`])));
      // Let the dispatcher meet the dead service first (on PostgreSQL, claim its requests).
      await eventually(() => server.stats.dispatch.noWorker >= 1);
      const started = Date.now();
      const live = await Promise.all(
        Array.from({ length: 20 }, (_, i) => client.call('echo', [`e${i}`], { timeoutMs: 10_000 })),
      );
      expect(live.map((r) => r.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `e${i}`));
      // The dead service's requests were not in the way (each would cost a 1000 ms dispatch timeout).
      expect(Date.now() - started).toBeLessThan(5000);
      // Nothing at all was sent to the dead service: its first-contact probe learnt from mmi.service
      // that it has no worker, and so did every probe after it.
      expect(server.stats.dispatch.sent).toBe(20);
      expect(await client.poll(dead[0] as string)).toEqual({ status: 'pending' });
      await eventually(async () => (await store.counts()).pending === 40);
    },
  );

  it.each(storesForStall)(
    'refuses "500" for a service at maxPendingPerService while other services are still accepted, on %s',
    async (_name, openStore) => {
      const { endpoint } = await startBroker();
      const store = await openStore();
      cleanups.push(() => store.close());
      const server = await startTitanic(endpoint, {
        store,
        maxBacklog: 100,
        maxPendingPerService: 5,
        claimIntervalMs: 50,
      });
      startEcho(endpoint);
      const client = await newClient(endpoint);
      for (let i = 0; i < 5; i++) await client.submit('made-up', [`m${i}`]);
      await expect(client.submit('made-up', ['one too many'])).rejects.toBeInstanceOf(TitanicServerError);
      expect(server.stats.refused).toBe(1);
      // Everyone else is still served.
      expect((await client.call('echo', ['still'], { timeoutMs: 10_000 }))[0]?.toString()).toBe('still');
      expect((await store.counts()).pending).toBe(5);
    },
  );

  it.each([['memory', () => Promise.resolve<TitanicStore>(new MemoryStore())] as const, ...storesForStall])(
    'the per-service and backlog bounds hold for concurrent submissions (reserved before the commit), on %s',
    async (_name, openStore) => {
      const { endpoint } = await startBroker();
      const store = await openStore();
      cleanups.push(() => store.close());
      const server = await startTitanic(endpoint, {
        store,
        requestWorkers: 12,
        maxBacklog: 8,
        maxPendingPerService: 5,
        claimIntervalMs: 50,
      });
      const client = await newClient(endpoint);
      // 12 submissions at once to one service, each on its own Titanic worker: 5 fit.
      const settled = async (services: string[]): Promise<number> => {
        const results = await Promise.allSettled(services.map((service, i) => client.submit(service, [`c${i}`])));
        for (const result of results) {
          if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(TitanicServerError);
        }
        return results.filter((r) => r.status === 'fulfilled').length;
      };
      expect(await settled(Array.from({ length: 12 }, () => 'made-up'))).toBe(5);
      expect((await store.counts()).pending).toBe(5);
      // 12 at once to 12 services: the backlog (8) has room for 3 more.
      expect(await settled(Array.from({ length: 12 }, (_, i) => `other-${i}`))).toBe(3);
      expect((await store.counts()).pending).toBe(8);
      expect(server.stats.refused).toBe(16);
    },
  );

  it('waitReply gives up with a TimeoutError naming the option, or an AbortError on its signal', async () => {
    const { endpoint } = await startBroker();
    await startTitanic(endpoint);
    const client = await newClient(endpoint);
    const uuid = await client.submit('nobody', ['x']);
    const timedOut = client.waitReply(uuid, { timeoutMs: 200 });
    const err = (await timedOut.catch((e: unknown) => e)) as { code?: string; message?: string };
    expect(err.code).toBe('ERR_TIMEOUT');
    expect(err.message).toMatch(/timeoutMs/);
    const controller = new AbortController();
    const aborted = client.waitReply(uuid, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user gave up')), 100);
    await expect(aborted).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    // The request is still stored and pending: giving up waiting does not cancel it.
    expect(await client.poll(uuid)).toEqual({ status: 'pending' });
  });

  it("forwards requests for the broker's own mmi.* services too", async () => {
    const { endpoint } = await startBroker();
    await startTitanic(endpoint);
    startEcho(endpoint);
    const client = await newClient(endpoint);
    await eventually(
      async () => (await client.call('mmi.service', ['echo'], { timeoutMs: 5000 }))[0]?.toString() === '200',
      {
        timeoutMs: 5000,
        what: 'mmi.service through titanic',
      },
    );
    expect((await client.call('mmi.service', ['nobody'], { timeoutMs: 5000 }))[0]?.toString()).toBe('404');
  });

  it('retries a request whose worker never answers, until another worker does (at-least-once)', async () => {
    const { endpoint } = await startBroker();
    // Everything logged at info and above, to check that no request UUID appears there.
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const server = await startTitanic(endpoint, { logger });
    let hungRequests = 0;
    const hung = new MajordomoWorker({
      broker: endpoint,
      service: 'flaky',
      heartbeatIntervalMs: HEARTBEAT_MS,
      drainTimeoutMs: 50,
      handler: () => {
        hungRequests++;
        return new Promise<never>(() => undefined); // a worker stuck for ever (as good as dead)
      },
    });
    await hung.start();
    cleanups.push(() => hung.close());
    const client = await newClient(endpoint);
    const uuid = await client.submit('flaky', ['once']);
    await eventually(() => hungRequests === 1, { timeoutMs: 5000, what: 'the stuck worker took the request' });
    const healthy: string[] = [];
    startEcho(endpoint, 'flaky', healthy);
    expect(await client.waitReply(uuid, { timeoutMs: 8000 })).toEqual([Buffer.from('once')]);
    expect(healthy).toEqual(['once']);
    expect(server.stats.dispatch.timeouts).toBeGreaterThanOrEqual(1);
    // The timeout was logged (at info), without the UUID: UUIDs are bearer tokens.
    expect(lines.some((line) => line.includes('no reply from the service'))).toBe(true);
    expect(lines.filter((line) => line.includes(uuid))).toEqual([]);
  });

  it('creates the data directory readable by its owner only (0700)', async () => {
    const dataDir = join(tempDir(), 'fresh', 'data');
    const store = new SqliteStore({ dataDir });
    expect(existsSync(dataDir)).toBe(false);
    await store.start();
    await store.close();
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
  });

  it('answers "500" when the store fails, and keeps serving', async () => {
    const { endpoint } = await startBroker();
    const store = new MemoryStore();
    let failing = true;
    const flaky: TitanicStore = {
      start: () => store.start(),
      write: async (batch) => {
        if (failing) throw new Error('disk full');
        await store.write(batch);
      },
      get: (uuid) => store.get(uuid),
      getRequest: (uuid) => store.getRequest(uuid),
      pending: () => store.pending(),
      counts: () => store.counts(),
      expireReplies: (before) => store.expireReplies(before),
      get stats() {
        return store.stats;
      },
      close: () => store.close(),
    };
    const server = await startTitanic(endpoint, { store: flaky });
    startEcho(endpoint);
    const client = await newClient(endpoint);
    await expect(client.submit('echo', ['x'])).rejects.toBeInstanceOf(TitanicServerError);
    await expect(client.closeRequest(generateUuid())).rejects.toBeInstanceOf(TitanicServerError);
    expect(server.stats.internalErrors).toBe(2);
    failing = false;
    expect((await client.call('echo', ['after'], { timeoutMs: 5000 })).toString()).toBe('after');
  });

  it('deletes replies that no client closed within replyRetentionMs', async () => {
    const { endpoint } = await startBroker();
    const server = await startTitanic(endpoint, { replyRetentionMs: 1 });
    startEcho(endpoint);
    const client = await newClient(endpoint);
    const uuid = await client.submit('echo', ['forgotten']);
    await client.waitReply(uuid, { timeoutMs: 5000 });
    await eventually(() => server.stats.expired === 1, { timeoutMs: 5000, what: 'retention sweep' });
    expect(await client.poll(uuid)).toEqual({ status: 'unknown' });
  });

  it('serves many concurrent clients across services, one fsync per batch of submissions', async () => {
    const { endpoint } = await startBroker();
    const store = new SqliteStore({ dataDir: tempDir() });
    // Every batch the group committer hands to the store (-1: a batch that failed); SQLite commits
    // synchronously, so the committer calls writeNow.
    const batches: number[] = [];
    const writeNow = store.writeNow.bind(store);
    store.writeNow = (batch) => {
      try {
        writeNow(batch);
        batches.push(batch.length);
      } catch (err) {
        batches.push(-1);
        throw err;
      }
    };
    const server = await startTitanic(endpoint, { store, requestWorkers: 8, concurrency: 16 });
    startEcho(endpoint, 'echo');
    startEcho(endpoint, 'echo');
    startEcho(endpoint, 'upper');
    const client = await newClient(endpoint);
    const n = 200;
    const results = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const service = i % 3 === 0 ? 'upper' : 'echo';
        const reply = await client.call(service, [`m${i}`], { timeoutMs: 15_000 });
        return reply.toString() === `m${i}`;
      }),
    );
    expect(results.every(Boolean)).toBe(true);
    expect(server.stats.submitted).toBe(n);
    expect(store.stats.requests).toBe(n);
    // One store commit (one transaction, one fsync with synchronous = FULL) per batch, exactly,
    // and every write in one of them.
    expect(batches.filter((n) => n < 0)).toEqual([]);
    expect(store.stats.commits).toBe(batches.length);
    expect(batches.reduce((sum, n) => sum + n, 0)).toBe(store.stats.writes);
    // Submissions arrive on 8 workers at once: group commit puts several in one batch.
    expect(Math.max(...batches)).toBeGreaterThan(1);
    expect(batches.length).toBeLessThan(store.stats.writes);
    expect(await store.counts()).toEqual({ pending: 0, replied: 0 });
  }, 30_000);
});
