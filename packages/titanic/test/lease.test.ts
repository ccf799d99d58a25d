/**
 * Lease timing of the dispatcher on a lease store, with a manual clock: a fake lease store over
 * `MemoryStore` (lease deadlines on the same manual clock) and a fake `DispatchClient` whose calls
 * resolve when the test says so.
 *
 *   Dispatcher ──claim/renew/release──> FakeLeaseStore (MemoryStore + leases on the ManualClock)
 *       └──request()──> FakeClient (records each dispatch, answers on demand)
 */
import { constantBackoff, InvalidArgumentError, ManualClock } from '@zpatterns/core';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Dispatcher } from '../src/dispatcher.js';
import type { DispatchClient } from '../src/dispatcher-options.js';
import { GroupCommitter } from '../src/group-commit.js';
import { LeaseKeeper } from '../src/lease-keeper.js';
import { MemoryStore } from '../src/memory-store.js';
import type { LeaseStore, StoredRequest } from '../src/store.js';

class FakeLeaseStore extends MemoryStore implements LeaseStore {
  readonly leases = new Map<string, { by: string; until: number }>();
  down = false;
  readonly #clock: ManualClock;

  constructor(clock: ManualClock) {
    super();
    this.#clock = clock;
  }

  async claim(
    instance: string,
    leaseMs: number,
    limit: number,
    exclude: readonly Buffer[] = [],
  ): Promise<StoredRequest[]> {
    if (this.down) throw new Error('database down');
    const now = this.#clock.now();
    const out: StoredRequest[] = [];
    for await (const ref of this.pending()) {
      if (out.length >= limit) break;
      if (exclude.some((service) => service.equals(ref.service))) continue;
      const lease = this.leases.get(ref.uuid);
      if (lease !== undefined && lease.until > now) continue;
      const request = await this.getRequest(ref.uuid);
      if (request === undefined) continue;
      this.leases.set(ref.uuid, { by: instance, until: now + leaseMs });
      out.push(request);
    }
    return out;
  }

  async renew(instance: string, uuids: readonly string[], leaseMs: number): Promise<string[]> {
    if (this.down) throw new Error('database down');
    const kept: string[] = [];
    for (const uuid of uuids) {
      const lease = this.leases.get(uuid);
      if (lease?.by !== instance || (await this.get(uuid)).state !== 'pending') continue;
      lease.until = this.#clock.now() + leaseMs;
      kept.push(uuid);
    }
    return kept;
  }

  async countPending(): Promise<number> {
    return (await this.counts()).pending;
  }

  async release(instance: string, uuids: readonly string[], delayMs: number): Promise<void> {
    for (const uuid of uuids) {
      if (this.leases.get(uuid)?.by === instance) this.leases.set(uuid, { by: '', until: this.#clock.now() + delayMs });
    }
  }
}

class FakeClient implements DispatchClient {
  readonly calls: { body: string; answer: () => void; timeOut: () => void }[] = [];
  request(_service: string | Buffer, body: readonly Buffer[], options: { signal?: AbortSignal }): Promise<Buffer[]> {
    return new Promise((resolve, reject) => {
      options.signal?.addEventListener('abort', () => reject(options.signal?.reason as Error), { once: true });
      this.calls.push({
        body: body[0]?.toString() ?? '',
        answer: () => resolve([...body]),
        timeOut: () => reject(Object.assign(new Error('no reply'), { code: 'ERR_TIMEOUT' })),
      });
    });
  }
}

/** Let promise chains and the group committer's setImmediate run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function submit(store: MemoryStore, uuid: string, service = 'echo'): Promise<void> {
  await store.write([{ type: 'request', uuid, service: Buffer.from(service), body: [Buffer.from(uuid)] }]);
}

function dispatcher(store: FakeLeaseStore, client: FakeClient, clock: ManualClock, instance: string): Dispatcher {
  return new Dispatcher(client, store, new GroupCommitter(store), {
    concurrency: 2,
    leaseMs: 300,
    drainTimeoutMs: 200,
    claimIntervalMs: 1000,
    mmiCheck: false,
    dispatchTimeoutMs: 60_000,
    instance,
    clock,
  });
}

describe('Dispatcher on a lease store (manual clock)', () => {
  it('a service that keeps timing out holds one slot (its probe), not the room the others need', async () => {
    const clock = new ManualClock(1000);
    const store = new FakeLeaseStore(clock);
    await store.start();
    for (const uuid of ['h1', 'h2', 'h3', 'h4']) await submit(store, uuid, 'hang');
    const client = new FakeClient();
    const d = new Dispatcher(client, store, new GroupCommitter(store), {
      concurrency: 2,
      leaseMs: 30_000,
      claimIntervalMs: 50,
      mmiCheck: false,
      dispatchTimeoutMs: 60_000,
      serviceRetryDelay: constantBackoff(100),
      retryDelay: constantBackoff(100),
      instance: 'A',
      clock,
    });
    const heldByA = (): string[] => [...store.leases].filter(([, l]) => l.by === 'A').map(([u]) => u);
    d.start();
    await settle();
    // First contact: the probe h1 in flight, h2 claimed behind it.
    expect(client.calls.map((c) => c.body)).toEqual(['h1']);
    expect(heldByA()).toEqual(['h1', 'h2']);
    client.calls[0]?.timeOut();
    await settle();
    // The circuit is open: both handed back with the backoff, the service not claimed meanwhile.
    expect(heldByA()).toEqual([]);
    // After the backoff, the re-probe: the service's other claimed request goes back at once.
    for (let t = 0; t < 4; t++) {
      clock.advance(50);
      await settle();
    }
    expect(client.calls.map((c) => c.body)).toEqual(['h1', 'h1']);
    expect(heldByA()).toEqual(['h1']);
    // So a request for another service submitted now is dispatched while the probe still hangs.
    await submit(store, 'e1');
    clock.advance(50);
    await settle();
    expect(client.calls.map((c) => c.body)).toEqual(['h1', 'h1', 'e1']);
    for (const call of client.calls.slice(1)) call.answer();
    await settle();
    const closed = d.close();
    for (let t = 0; t < 5; t++) {
      for (const call of client.calls) call.answer();
      clock.advance(1000);
      await settle();
    }
    await closed;
  });

  it('claims no more than it can send, and renews leases while a worker call runs long', async () => {
    const clock = new ManualClock(1000);
    const store = new FakeLeaseStore(clock);
    await store.start();
    for (const uuid of ['a', 'b', 'c']) await submit(store, uuid);
    const client = new FakeClient();
    const d = dispatcher(store, client, clock, 'A');
    expect(d.leased).toBe(true);
    expect(await d.recover()).toBe(3);
    d.start();
    await settle();
    // The first request to a new service is its probe; once it answers, the service is healthy.
    expect(client.calls.map((c) => c.body)).toEqual(['a']);
    expect([...store.leases].filter(([, l]) => l.by === 'A').map(([u]) => u)).toEqual(['a', 'b']);
    client.calls[0]?.answer();
    await settle();
    expect((await store.get('a')).state).toBe('replied');
    expect(client.calls.map((c) => c.body)).toEqual(['a', 'b', 'c']);

    // 'b' and 'c' hang for 5 leases: renewed every 100 ms, nobody else can claim them.
    for (let t = 0; t < 15; t++) {
      clock.advance(100);
      await settle();
      expect(await store.claim('B', 300, 10)).toEqual([]);
    }
    expect(d.stats.leasesLost).toBe(0);
    client.calls[1]?.answer();
    client.calls[2]?.answer();
    await settle();
    expect((await store.counts()).replied).toBe(3);
    expect(client.calls).toHaveLength(3);
    await d.close();
  });

  it('drops unsent a request whose lease ran out while renewals failed; another instance takes it after expiry', async () => {
    const clock = new ManualClock(1000);
    const store = new FakeLeaseStore(clock);
    await store.start();
    for (const uuid of ['x', 'y']) await submit(store, uuid);
    const clientA = new FakeClient();
    const a = dispatcher(store, clientA, clock, 'A');
    a.start();
    await settle();
    // 'x' is the probe in flight; 'y' waits behind it, claimed.
    expect(clientA.calls.map((c) => c.body)).toEqual(['x']);
    expect(store.leases.get('y')?.by).toBe('A');

    store.down = true;
    clock.advance(350); // renewals at 100, 200, 300 fail; the local deadline (1300) passes
    await settle();
    expect(a.stats.storeErrors).toBeGreaterThan(0);
    store.down = false;

    // B claims both expired leases and sends them; A must not send 'y' now.
    const clientB = new FakeClient();
    const b = dispatcher(store, clientB, clock, 'B');
    b.start();
    await settle();
    expect(store.leases.get('y')?.by).toBe('B');
    clientA.calls[0]?.answer(); // A's slow 'x' finally answers: stored (first reply wins)
    await settle();
    expect(clientA.calls.map((c) => c.body)).toEqual(['x']);
    expect(a.stats.leasesLost).toBeGreaterThanOrEqual(1);
    expect(clientB.calls.map((c) => c.body)).toEqual(['x']); // B's probe; 'y' waits behind it
    clientB.calls[0]?.answer();
    await settle();
    expect(clientB.calls.map((c) => c.body)).toEqual(['x', 'y']);
    clientB.calls[1]?.answer();
    await settle();
    expect((await store.counts()).replied).toBe(2);
    await a.close();
    await b.close();
  });

  it('renews the lease of a request still running while close() drains, until it hands it back', async () => {
    // leaseMs 2500, renewed every 833 ms; the drain (2000 ms) outlasts what is left of a lease
    // renewed just before close() (1667 ms): without renewals during the drain, B could claim.
    const clock = new ManualClock(1000);
    const store = new FakeLeaseStore(clock);
    await store.start();
    await submit(store, 'slow');
    const client = new FakeClient();
    const a = new Dispatcher(client, store, new GroupCommitter(store), {
      leaseMs: 2500,
      drainTimeoutMs: 2000,
      claimIntervalMs: 1000,
      mmiCheck: false,
      dispatchTimeoutMs: 60_000,
      instance: 'A',
      clock,
    });
    a.start();
    await settle();
    expect(client.calls.map((c) => c.body)).toEqual(['slow']);
    for (let t = 0; t < 166; t++) {
      clock.advance(10); // renewed at 833 past the start: the lease runs to 833 + 2500
      await settle();
    }
    const closed = a.close();
    let done = false;
    void closed.then(() => (done = true));
    for (let t = 0; t < 25 && !done; t++) {
      clock.advance(100);
      await settle();
      // The request still runs on A's worker: no other instance may take it.
      expect(await store.claim('B', 2500, 10)).toEqual([]);
      expect(store.leases.get('slow')?.until).toBeGreaterThan(clock.now());
    }
    await closed;
    // Handed back abandoned in flight: claimable only once its 60 s timeout since sending has passed.
    expect(store.leases.get('slow')?.by).toBe('');
    expect(await store.claim('B', 2500, 10)).toEqual([]);
    expect(a.stats.leasesLost).toBe(0);
  });

  it('refuses a drain that does not fit inside the lease (InvalidArgumentError), only on a lease store', () => {
    const clock = new ManualClock(1000);
    const leased = new FakeLeaseStore(clock);
    const make = (store: MemoryStore, leaseMs: number, drainTimeoutMs: number): Dispatcher =>
      new Dispatcher(new FakeClient(), store, new GroupCommitter(store), { leaseMs, drainTimeoutMs, clock });
    expect(() => make(leased, 2000, 2000)).toThrow(InvalidArgumentError);
    expect(() => make(leased, 2000, 2000)).toThrow(
      'TitanicServer: leaseMs must be longer than drainTimeoutMs (2000) on a lease store, got 2000',
    );
    expect(make(leased, 2001, 2000).leased).toBe(true);
    // Without leases there is nothing to outlast.
    expect(make(new MemoryStore(), 100, 2000).leased).toBe(false);
  });

  it("keeps a local submission made while the store's pending count runs on top of that count", async () => {
    let answer!: (counts: Map<string, number>) => void;
    const leases: LeaseStore = {
      claim: () => Promise.resolve([]),
      renew: () => Promise.resolve([]),
      release: () => Promise.resolve(),
      countPending: () => Promise.resolve(0),
      countPendingByService: () => new Promise((resolve) => (answer = resolve)),
    };
    const keeper = new LeaseKeeper(
      leases,
      { room: () => 0, claimed: () => undefined, lost: () => false, waiting: () => false, excluded: () => [] },
      {
        instance: 'A',
        leaseMs: 3000,
        claimIntervalMs: 1000,
        storeRetryDelay: constantBackoff(100),
        clock: new ManualClock(1000),
        log: pino({ level: 'silent' }),
        stats: { claimed: 0, leasesLost: 0, released: 0, storeErrors: 0 },
      },
    );
    const service = 's';
    const refreshing = keeper.refreshBacklog();
    // Committed after the count read the table: the count does not include it.
    keeper.submitted(service);
    answer(new Map([['s', 2]]));
    await refreshing;
    expect(keeper.pendingOf(service)).toBe(3);
    expect(keeper.backlog).toBe(3);
  });
});
