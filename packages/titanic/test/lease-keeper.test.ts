/**
 * The lease keeper alone, on a manual clock: an in-memory lease store (leases on the same clock,
 * every call recorded, failures and pauses on demand) and a fake dispatcher port.
 *
 *   LeaseKeeper ──claim/renew/release/countPending──> MemoryLeases (leases on the ManualClock)
 *       └──room/claimed/lost/waiting/excluded/held──> FakePort (a queue of uuids)
 */
import { ManualClock, type RetryDelay } from '@zpatterns/core';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LeaseKeeper, type LeaseKeeperPort, type LeaseStats } from '../src/lease-keeper.js';
import type { LeaseStore, StoredRequest } from '../src/store.js';

type Call =
  | { op: 'claim'; instance: string; leaseMs: number; limit: number; exclude: string[]; held: unknown }
  | { op: 'renew'; instance: string; uuids: string[]; leaseMs: number }
  | { op: 'release'; instance: string; uuids: string[]; delayMs: number }
  | { op: 'count' };

/** A gate an operation waits at until the test opens it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

class MemoryLeases implements LeaseStore {
  readonly requests = new Map<string, StoredRequest>();
  readonly leases = new Map<string, { by: string; until: number }>();
  readonly calls: Call[] = [];
  /** Set: claim, renew and countPending reject with it. */
  down: Error | undefined;
  releaseDown: Error | undefined;
  claimGate: Promise<void> | undefined;
  renewGate: Promise<void> | undefined;
  releaseGate: Promise<void> | undefined;
  pending = 0;
  countPendingByService?: () => Promise<Map<string, number>>;
  readonly #clock: ManualClock;

  constructor(clock: ManualClock) {
    this.#clock = clock;
  }

  add(...uuids: string[]): void {
    for (const uuid of uuids) {
      const service = uuid.startsWith('x') ? 'excluded' : 'echo';
      this.requests.set(uuid, { uuid, service: Buffer.from(service), body: [Buffer.from(`body-${uuid}`)] });
    }
  }

  /** Another instance holds `uuid` now (its lease here expired and was claimed there). */
  takeOver(uuid: string, by: string): void {
    this.leases.set(uuid, { by, until: this.#clock.now() + 60_000 });
  }

  of(name: Call['op']): Call[] {
    return this.calls.filter((c) => c.op === name);
  }

  async claim(
    instance: string,
    leaseMs: number,
    limit: number,
    exclude: readonly Buffer[] = [],
    held?: ReadonlyMap<string, number>,
  ): Promise<StoredRequest[]> {
    this.calls.push({ op: 'claim', instance, leaseMs, limit, exclude: exclude.map((b) => b.toString()), held });
    await this.claimGate;
    if (this.down !== undefined) throw this.down;
    const now = this.#clock.now();
    const out: StoredRequest[] = [];
    for (const request of this.requests.values()) {
      if (out.length >= limit) break;
      if (exclude.some((s) => s.equals(request.service))) continue;
      const lease = this.leases.get(request.uuid);
      if (lease !== undefined && lease.until > now) continue;
      this.leases.set(request.uuid, { by: instance, until: now + leaseMs });
      out.push(request);
    }
    return out;
  }

  async renew(instance: string, uuids: readonly string[], leaseMs: number): Promise<string[]> {
    this.calls.push({ op: 'renew', instance, uuids: [...uuids], leaseMs });
    await this.renewGate;
    if (this.down !== undefined) throw this.down;
    const kept = uuids.filter((uuid) => this.leases.get(uuid)?.by === instance);
    for (const uuid of kept) this.leases.set(uuid, { by: instance, until: this.#clock.now() + leaseMs });
    return kept;
  }

  async release(instance: string, uuids: readonly string[], delayMs: number): Promise<void> {
    this.calls.push({ op: 'release', instance, uuids: [...uuids], delayMs });
    await this.releaseGate;
    if (this.releaseDown !== undefined) throw this.releaseDown;
    for (const uuid of uuids) {
      if (this.leases.get(uuid)?.by === instance) this.leases.set(uuid, { by: '', until: this.#clock.now() + delayMs });
    }
  }

  async countPending(): Promise<number> {
    this.calls.push({ op: 'count' });
    await Promise.resolve();
    if (this.down !== undefined) throw this.down;
    return this.pending;
  }
}

/** The dispatcher's side: a queue with a capacity (or a fixed room). */
class FakePort implements LeaseKeeperPort {
  readonly queue = new Set<string>();
  readonly claimedBatches: string[][] = [];
  readonly lostCalls: string[] = [];
  capacity = 10;
  fixedRoom: number | undefined;
  /** Requests being dispatched (not waiting). */
  readonly running = new Set<string>();
  excludedServices: Buffer[] = [];
  heldMap = new Map([['echo', 1]]);

  room(): number {
    return this.fixedRoom ?? this.capacity - this.queue.size;
  }
  claimed(rows: readonly StoredRequest[]): void {
    this.claimedBatches.push(rows.map((r) => r.uuid));
    for (const row of rows) this.queue.add(row.uuid);
  }
  lost(uuid: string): boolean {
    this.lostCalls.push(uuid);
    return this.queue.delete(uuid);
  }
  waiting(uuid: string): boolean {
    return this.queue.has(uuid) && !this.running.has(uuid);
  }
  excluded(): Buffer[] {
    return this.excludedServices;
  }
  held(): ReadonlyMap<string, number> {
    return this.heldMap;
  }
}

/** Let promise chains run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

interface Setup {
  clock: ManualClock;
  store: MemoryLeases;
  port: FakePort;
  keeper: LeaseKeeper;
  stats: LeaseStats;
  logs: { level: number; msg: string; [key: string]: unknown }[];
}

const retry: RetryDelay = (attempt) => (attempt >= 1 && attempt <= 3 ? attempt * 100 : null);

function setup(options: { leaseMs?: number; port?: LeaseKeeperPort } = {}): Setup {
  const clock = new ManualClock(1000);
  const store = new MemoryLeases(clock);
  const port = new FakePort();
  const stats: LeaseStats = { claimed: 0, leasesLost: 0, released: 0, storeErrors: 0 };
  const logs: Setup['logs'] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line) as Setup['logs'][0]) });
  const keeper = new LeaseKeeper(store, options.port ?? port, {
    instance: 'A',
    leaseMs: options.leaseMs ?? 3000,
    claimIntervalMs: 500,
    storeRetryDelay: retry,
    clock,
    log,
    stats,
  });
  return { clock, store, port, keeper, stats, logs };
}

const body = (uuid: string): string => `body-${uuid}`;
const heldBody = (keeper: LeaseKeeper, uuid: string): string | undefined => keeper.holds(uuid)?.[0]?.toString();

describe('LeaseKeeper: claims', () => {
  it('claims up to the room at start, with the port’s exclusions and holdings, and holds each by sentAt + leaseMs', async () => {
    const { clock, store, port, keeper, stats, logs } = setup();
    store.add('r1', 'r2', 'x3');
    port.excludedServices = [Buffer.from('excluded')];
    keeper.start();
    await settle();
    expect(store.of('claim')).toEqual([
      { op: 'claim', instance: 'A', leaseMs: 3000, limit: 10, exclude: ['excluded'], held: port.heldMap },
    ]);
    expect(port.claimedBatches).toEqual([['r1', 'r2']]);
    expect(stats.claimed).toBe(2);
    expect(heldBody(keeper, 'r1')).toBe(body('r1'));
    expect(heldBody(keeper, 'x3')).toBeUndefined();
    expect(logs).toContainEqual(expect.objectContaining({ level: 20, msg: 'claimed', claimed: 2, held: 2 }));
    // Renewals fail from now on: the local deadline is the claim's, 1000 + 3000.
    store.down = new Error('database down');
    port.running.add('r1');
    port.running.add('r2');
    clock.advance(2999);
    await settle();
    expect(heldBody(keeper, 'r1')).toBe(body('r1'));
    clock.advance(1);
    expect(keeper.holds('r1')).toBeUndefined();
    await keeper.stop();
  });

  it('claims again while a claim fills the room, and stops at a short answer', async () => {
    const { store, port, keeper } = setup();
    store.add('r1', 'r2', 'r3', 'r4');
    port.fixedRoom = 2;
    keeper.start();
    await settle();
    expect(store.of('claim').map((c) => (c.op === 'claim' ? c.limit : 0))).toEqual([2, 2, 2]);
    expect(port.claimedBatches).toEqual([['r1', 'r2'], ['r3', 'r4'], []]);
    expect(store.of('count')).toHaveLength(1);
    await keeper.stop();
  });

  it('does not claim without room, and polls every claimIntervalMs', async () => {
    const { clock, store, port, keeper, logs } = setup();
    port.capacity = 0;
    store.add('r1');
    keeper.start();
    await settle();
    expect(store.of('claim')).toEqual([]);
    port.capacity = 1;
    clock.advance(499);
    await settle();
    expect(store.of('claim')).toEqual([]);
    clock.advance(1);
    await settle();
    expect(port.claimedBatches).toEqual([['r1']]);
    // Nothing claimable: no "claimed" line for an empty answer; the poll goes on.
    port.capacity = 5;
    clock.advance(500);
    await settle();
    expect(store.of('claim')).toHaveLength(2);
    expect(logs.filter((l) => l.msg === 'claimed')).toHaveLength(1);
    await keeper.stop();
    expect(clock.pending).toBe(0);
  });

  it('claims at once on a submission, and polls claimIntervalMs after that round', async () => {
    const { clock, store, port, keeper } = setup();
    keeper.start();
    await settle();
    clock.advance(200); // the poll is due at 1500
    store.add('r1');
    keeper.submitted('echo');
    await settle();
    expect(port.claimedBatches).toEqual([[], ['r1']]);
    clock.advance(499); // 1699: no poll at 1500, the next at 1700
    await settle();
    expect(store.of('claim')).toHaveLength(2);
    clock.advance(1);
    await settle();
    expect(store.of('claim')).toHaveLength(3);
    await keeper.stop();
  });

  it('runs one claim round at a time, and one more for any number of wants meanwhile', async () => {
    const { store, keeper } = setup();
    const g = gate();
    store.claimGate = g.wait;
    keeper.want();
    await settle();
    expect(store.calls).toEqual([]); // not started
    keeper.start();
    await settle();
    expect(store.of('claim')).toHaveLength(1);
    keeper.want();
    keeper.submitted('echo');
    await settle();
    expect(store.of('claim')).toHaveLength(1);
    g.open();
    await settle();
    expect(store.of('claim')).toHaveLength(2);
    await keeper.stop();
  });

  it('does not hand a request already held to the port again, but moves its deadline', async () => {
    const { clock, store, port, keeper, stats } = setup();
    store.add('r1');
    keeper.start();
    await settle();
    // The store's lease expired (say, renewals lost) and this instance claims it again.
    store.leases.set('r1', { by: '', until: 0 });
    store.renewGate = gate().wait; // renewals hang: only the claim moves the deadline
    port.running.add('r1');
    clock.advance(2500);
    await settle();
    expect(port.claimedBatches.flat()).toEqual(['r1']);
    expect(stats.claimed).toBe(1);
    // Reclaimed at 1500 (the first poll): held until 4500, past the first deadline of 4000.
    clock.advance(999);
    expect(heldBody(keeper, 'r1')).toBe(body('r1'));
    clock.advance(1);
    expect(keeper.holds('r1')).toBeUndefined();
    await keeper.stopClaiming();
  });

  it('refreshes the backlog on a claim round at most once a second', async () => {
    const { clock, store, keeper } = setup();
    store.pending = 7;
    keeper.start();
    await settle();
    expect(keeper.backlog).toBe(7);
    store.pending = 9;
    clock.advance(500); // a poll 500 ms later: no count
    await settle();
    expect(store.of('count')).toHaveLength(1);
    clock.advance(500); // exactly 1000 ms after the count
    await settle();
    expect(store.of('count')).toHaveLength(2);
    expect(keeper.backlog).toBe(9);
    await keeper.stop();
  });

  it('counts local submissions per service on top of the store’s count', async () => {
    const { store, keeper } = setup();
    store.countPendingByService = () =>
      Promise.resolve(
        new Map([
          ['a', 2],
          ['b', 3],
        ]),
      );
    keeper.submitted('a');
    keeper.submitted('a');
    keeper.submitted('c');
    expect(keeper.backlog).toBe(3);
    expect(keeper.pendingOf('a')).toBe(2);
    expect(keeper.pendingOf('z')).toBe(0);
    // Not started: a submission claims nothing.
    expect(store.calls).toEqual([]);
    await keeper.refreshBacklog();
    expect(store.of('count')).toEqual([]);
    expect(keeper.backlog).toBe(5);
    expect(keeper.pendingOf('a')).toBe(2);
    expect(keeper.pendingOf('b')).toBe(3);
    expect(keeper.pendingOf('c')).toBe(0);
    keeper.submitted('b');
    expect(keeper.pendingOf('b')).toBe(4);
  });

  it('keeps the per-service submissions made while the count runs on top of it', async () => {
    let answer!: (counts: Map<string, number>) => void;
    const leases = new MemoryLeases(new ManualClock());
    leases.countPendingByService = () => new Promise((resolve) => (answer = resolve));
    const k = new LeaseKeeper(leases, new FakePort(), {
      instance: 'A',
      leaseMs: 3000,
      claimIntervalMs: 500,
      storeRetryDelay: retry,
      clock: new ManualClock(),
      log: pino({ level: 'silent' }),
      stats: { claimed: 0, leasesLost: 0, released: 0, storeErrors: 0 },
    });
    const a = 'a';
    k.submitted(a);
    k.submitted(a);
    const refreshing = k.refreshBacklog();
    k.submitted(a); // may or may not be in the count: kept on top
    answer(new Map([['a', 10]]));
    await refreshing;
    expect(k.pendingOf(a)).toBe(11);
    expect(k.backlog).toBe(11);
  });
});

describe('LeaseKeeper: store errors', () => {
  it('retries a failing claim after the store delay, claims nothing on submissions meanwhile, and resumes polling', async () => {
    const { clock, store, port, keeper, stats, logs } = setup();
    store.down = new Error('database down');
    keeper.start();
    await settle();
    expect(keeper.storeReachable).toBe(false);
    expect(stats.storeErrors).toBe(1);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 40,
        msg: 'claim failed, will retry',
        attempt: 1,
        delayMs: 100,
        err: expect.objectContaining({ message: 'database down' }) as unknown,
      }),
    );
    keeper.submitted('echo');
    await settle();
    expect(store.of('count')).toHaveLength(1);
    clock.advance(99);
    await settle();
    expect(store.of('count')).toHaveLength(1);
    clock.advance(1); // attempt 2, after 100 ms
    await settle();
    expect(store.of('count')).toHaveLength(2);
    expect(stats.storeErrors).toBe(2);
    store.down = undefined;
    store.add('r1');
    clock.advance(199);
    await settle();
    expect(port.claimedBatches).toEqual([]);
    clock.advance(1); // attempt 3, after 200 ms
    await settle();
    expect(port.claimedBatches).toEqual([['r1']]);
    expect(keeper.storeReachable).toBe(true);
    clock.advance(499);
    await settle();
    expect(store.of('claim')).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(store.of('claim')).toHaveLength(2);
    await keeper.stop();
  });

  it('wants again after a round only while the store is reachable', async () => {
    const { clock, store, keeper } = setup();
    const g = gate();
    store.claimGate = g.wait;
    keeper.start();
    await settle();
    expect(store.of('claim')).toHaveLength(1);
    store.down = new Error('database down');
    keeper.want(); // during the round that is about to fail
    g.open();
    await settle();
    // The round failed: the retry timer decides, not the want.
    expect(store.of('claim')).toHaveLength(1);
    clock.advance(100);
    await settle();
    expect(store.of('claim')).toHaveLength(2);
    await keeper.stop();
  });

  it('waits the policy’s delay, else the attempt before’s, else 5 s', () => {
    const { keeper } = setup();
    expect([1, 2, 3, 4, 9].map((a) => keeper.storeDelay(a))).toEqual([100, 200, 300, 300, 5000]);
    const clock = new ManualClock();
    const never = new LeaseKeeper(new MemoryLeases(clock), new FakePort(), {
      instance: 'A',
      leaseMs: 3000,
      claimIntervalMs: 500,
      storeRetryDelay: () => null,
      clock,
      log: pino({ level: 'silent' }),
      stats: { claimed: 0, leasesLost: 0, released: 0, storeErrors: 0 },
    });
    expect(never.storeDelay(1)).toBe(5000);
  });
});

describe('LeaseKeeper: renewals', () => {
  it('renews every lease held every leaseMs / 3 and moves the local deadline', async () => {
    const { clock, store, port, keeper } = setup();
    store.add('r1', 'r2');
    keeper.start();
    await settle();
    store.takeOver('r2', 'B'); // taken over by another instance (expired)
    keeper.forget('r1'); // answered meanwhile: nothing to renew... until claimed again
    store.add('r3');
    expect(keeper.holds('r1')).toBeUndefined();
    clock.advance(499);
    await settle();
    expect(store.of('renew')).toEqual([]);
    clock.advance(1); // poll: r3 claimed
    await settle();
    clock.advance(499);
    await settle();
    expect(store.of('renew')).toEqual([]);
    clock.advance(1); // 1000 ms after start
    await settle();
    expect(store.of('renew')).toEqual([{ op: 'renew', instance: 'A', uuids: ['r2', 'r3'], leaseMs: 3000 }]);
    expect(port.lostCalls).toEqual(['r2']);
    expect(keeper.holds('r2')).toBeUndefined();
    // r3, claimed at 1500 and renewed at 2000: held until 5000.
    port.running.add('r3');
    store.down = new Error('database down');
    clock.advance(2999);
    await settle();
    expect(heldBody(keeper, 'r3')).toBe(body('r3'));
    clock.advance(1);
    expect(keeper.holds('r3')).toBeUndefined();
    await keeper.stop();
  });

  it('counts a lease lost only when the port still had the request', async () => {
    const { clock, store, port, keeper, stats, logs } = setup();
    store.add('r1', 'r2');
    keeper.start();
    await settle();
    store.takeOver('r1', 'B');
    store.takeOver('r2', 'B');
    port.queue.delete('r2'); // the dispatcher already forgot it
    clock.advance(1000);
    await settle();
    expect(port.lostCalls).toEqual(['r1', 'r2']);
    expect(stats.leasesLost).toBe(1);
    expect(logs.filter((l) => l.msg === 'lease dropped')).toEqual([
      expect.objectContaining({ level: 20, uuid: 'r1', reason: 'lease not renewed' }),
    ]);
    await keeper.stop();
  });

  it('renews every 1 ms at least, for a very short lease', async () => {
    const { clock, store, keeper } = setup({ leaseMs: 2 });
    store.add('r1');
    keeper.start();
    await settle();
    clock.advance(1);
    await settle();
    expect(store.of('renew')).toHaveLength(1);
    clock.advance(0);
    await settle();
    expect(store.of('renew')).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(store.of('renew')).toHaveLength(2);
    await keeper.stop();
  });

  it('skips a request forgotten while its renewal was in flight', async () => {
    const { clock, store, port, keeper } = setup();
    store.add('r1');
    keeper.start();
    await settle();
    const g = gate();
    store.renewGate = g.wait;
    store.takeOver('r1', 'B');
    clock.advance(1000);
    await settle();
    keeper.forget('r1');
    g.open();
    await settle();
    expect(port.lostCalls).toEqual([]);
    await keeper.stop();
  });

  it('on a failed renewal drops only the waiting requests whose local deadline passed', async () => {
    const { clock, store, port, keeper, stats, logs } = setup();
    store.add('r1', 'r2');
    keeper.start();
    await settle();
    store.add('r3');
    store.down = new Error('database down');
    // Claims fail too; r1 is being dispatched, r2 waits.
    port.running.add('r1');
    clock.advance(2000);
    await settle();
    expect(stats.storeErrors).toBeGreaterThanOrEqual(2);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 40,
        msg: 'lease renewal failed',
        held: 2,
        err: expect.objectContaining({ message: 'database down' }) as unknown,
      }),
    );
    expect(port.lostCalls).toEqual([]);
    const errors = stats.storeErrors;
    clock.advance(1000); // renewal at 4000: exactly the local deadline
    await settle();
    expect(stats.storeErrors).toBeGreaterThan(errors);
    expect(port.lostCalls).toEqual(['r2']);
    expect(stats.leasesLost).toBe(1);
    expect(logs).toContainEqual(expect.objectContaining({ msg: 'lease dropped', uuid: 'r2', reason: 'lease expired' }));
    await keeper.stop();
  });
});

describe('LeaseKeeper: drain and hand-back', () => {
  it('stopClaiming renews at once and goes on renewing until stop; a round in progress hands its claim back', async () => {
    const { clock, store, port, keeper } = setup();
    store.add('r1');
    keeper.start();
    await settle();
    store.add('r2');
    const g = gate();
    store.claimGate = g.wait;
    clock.advance(500); // a poll, paused in the store
    await settle();
    clock.advance(100);
    const stopping = keeper.stopClaiming();
    await settle();
    expect(store.of('renew')).toEqual([]); // waits for the round first
    g.open();
    await stopping;
    await settle();
    expect(store.of('release')).toEqual([{ op: 'release', instance: 'A', uuids: ['r2'], delayMs: 0 }]);
    expect(port.claimedBatches.flat()).toEqual(['r1']);
    expect(store.of('renew')).toEqual([{ op: 'renew', instance: 'A', uuids: ['r1'], leaseMs: 3000 }]);
    keeper.want();
    clock.advance(999);
    await settle();
    expect(store.of('claim')).toHaveLength(2);
    expect(store.of('renew')).toHaveLength(1);
    clock.advance(1); // leaseMs / 3 after the drain's renewal
    await settle();
    expect(store.of('renew')).toHaveLength(2);
    await keeper.stop();
    expect(clock.pending).toBe(0);
    clock.advance(10_000);
    await settle();
    expect(store.of('renew')).toHaveLength(2);
    expect(store.of('claim')).toHaveLength(2);
  });

  it('stop before start renews nothing and arms no timer', async () => {
    const { clock, store, keeper } = setup();
    await keeper.stopClaiming();
    await settle();
    expect(clock.pending).toBe(0);
    await keeper.stop();
    expect(store.calls).toEqual([]);
  });

  it('stopClaiming while a renewal runs does not start another; stop waits for it', async () => {
    const { clock, store, keeper } = setup();
    store.add('r1');
    keeper.start();
    await settle();
    const g = gate();
    store.renewGate = g.wait;
    clock.advance(1000);
    await settle();
    await keeper.stopClaiming();
    expect(store.of('renew')).toHaveLength(1);
    let stopped = false;
    const stopping = keeper.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    g.open();
    await stopping;
    expect(store.of('renew')).toHaveLength(1);
    expect(clock.pending).toBe(0);
  });

  it('a round running when claims stop releases what it claims, even if the release fails', async () => {
    const { clock, store, keeper, stats } = setup();
    store.add('r1');
    store.releaseDown = new Error('database down');
    const g = gate();
    store.claimGate = g.wait;
    keeper.start();
    await settle();
    const stopping = keeper.stopClaiming();
    g.open();
    await stopping;
    expect(store.of('release')).toEqual([{ op: 'release', instance: 'A', uuids: ['r1'], delayMs: 0 }]);
    expect(keeper.holds('r1')).toBeUndefined();
    expect(stats.storeErrors).toBe(0);
    expect(clock.pending).toBe(1); // the renewal's timer, no poll
    await keeper.stop();
  });

  it('releaseAll hands every lease back, grouped by its delay (rounded up, at least 0)', async () => {
    const { clock, store, keeper, logs } = setup();
    store.add('r1', 'r2', 'r3', 'r4');
    keeper.start();
    await settle();
    await keeper.stop();
    const delays: Record<string, number> = { r1: 99.2, r2: -5, r3: 100 };
    await keeper.releaseAll(1000, (uuid) => delays[uuid] ?? 0);
    expect(store.of('release')).toEqual([
      { op: 'release', instance: 'A', uuids: ['r1', 'r3'], delayMs: 100 },
      { op: 'release', instance: 'A', uuids: ['r2', 'r4'], delayMs: 0 },
    ]);
    expect(keeper.holds('r1')).toBeUndefined();
    expect(logs).toContainEqual(expect.objectContaining({ msg: 'leases handed back', held: 4, delays: [100, 0] }));
    expect(clock.pending).toBe(0);
    await keeper.releaseAll(1000);
    expect(store.of('release')).toHaveLength(2); // nothing held: nothing sent
    expect(logs.filter((l) => l.msg === 'leases handed back')).toHaveLength(1);
  });

  it('releaseAll defaults to no delay, and gives up waiting after its timeout', async () => {
    const { clock, store, keeper } = setup();
    store.add('r1');
    keeper.start();
    await settle();
    await keeper.stop();
    store.releaseGate = gate().wait; // the store never answers
    let done = false;
    const releasing = keeper.releaseAll(200).then(() => (done = true));
    await settle();
    expect(store.of('release')).toEqual([{ op: 'release', instance: 'A', uuids: ['r1'], delayMs: 0 }]);
    clock.advance(199);
    await settle();
    expect(done).toBe(false);
    clock.advance(1);
    await releasing;
  });

  it('releaseAll logs a failed hand-back', async () => {
    const { store, keeper, logs } = setup();
    store.add('r1');
    keeper.start();
    await settle();
    await keeper.stop();
    store.releaseDown = new Error('database down');
    await keeper.releaseAll(200);
    expect(logs).toContainEqual(
      expect.objectContaining({ level: 40, msg: 'leases not released; they will expire', held: 1 }),
    );
  });

  it('release hands requests back with a delay and counts them; a failed release is only logged', async () => {
    const { clock, store, keeper, stats, logs } = setup();
    store.add('r1', 'r2', 'r3');
    keeper.start();
    await settle();
    keeper.release(['r1', 'r2'], 250);
    await settle();
    expect(store.of('release')).toEqual([{ op: 'release', instance: 'A', uuids: ['r1', 'r2'], delayMs: 250 }]);
    expect(stats.released).toBe(2);
    expect(keeper.holds('r1')).toBeUndefined();
    expect(heldBody(keeper, 'r3')).toBe(body('r3'));
    store.releaseDown = new Error('database down');
    keeper.release(['r3'], 0);
    await settle();
    expect(stats.released).toBe(3);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 20,
        msg: 'release failed',
        released: 1,
        err: expect.objectContaining({ message: 'database down' }) as unknown,
      }),
    );
    clock.advance(1000);
    await settle();
    expect(store.of('renew')).toEqual([]); // nothing held
    await keeper.stop();
  });

  it('drop forgets the request and counts it lost only if the port still had it', () => {
    const { port, keeper, stats } = setup();
    port.queue.add('r1');
    keeper.drop('r1', 'test');
    keeper.drop('r9', 'test');
    expect(port.lostCalls).toEqual(['r1', 'r9']);
    expect(stats.leasesLost).toBe(1);
  });

  it('claims without holdings when the port has none', async () => {
    const port = new FakePort();
    const { store, keeper } = setup({
      port: {
        room: () => port.room(),
        claimed: (rows) => port.claimed(rows),
        lost: (uuid) => port.lost(uuid),
        waiting: (uuid) => port.waiting(uuid),
        excluded: () => [],
      },
    });
    keeper.start();
    await settle();
    expect(store.of('claim')).toEqual([
      { op: 'claim', instance: 'A', leaseMs: 3000, limit: 10, exclude: [], held: undefined },
    ]);
    await keeper.stop();
  });
});
