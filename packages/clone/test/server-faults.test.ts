/**
 * Server faults in one process, on real sockets: a journal commit that fails, the pending list of a
 * passive across a resync, concurrent snapshots.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  eventually,
  freePortRange,
  ipcEndpoint,
  startTcpProxy,
  useDisposables,
  type TcpProxy,
} from '@zpatterns/testkit';
import type { Clock } from '@zpatterns/core';
import * as zmq from 'zeromq';
import { encodeIcanhaz, encodeKvMsg } from '../src/kvmsg.js';
import { describe, expect, it, vi } from 'vitest';
import { CloneClient } from '../src/client.js';
import { CloneJournal } from '../src/journal.js';
import { CloneServer, type ClonePairOptions, type CloneServerOptions } from '../src/server.js';

vi.setConfig({ testTimeout: 60_000 });

const { track, defer } = useDisposables();

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'clone-faults-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function server(options: CloneServerOptions = {}): Promise<CloneServer> {
  const s = track(new CloneServer({ heartbeatIntervalMs: 50, flushIntervalMs: 50, ...options }));
  await s.start();
  return s;
}

async function client(s: CloneServer, commitTimeoutMs = 10_000): Promise<CloneClient> {
  const c = track(new CloneClient({ servers: [{ ...s.endpoints }], peerTtlMs: 2000, timeoutMs: commitTimeoutMs }));
  await c.start();
  return c;
}

describe('journal commit failure', () => {
  it('applies nothing a failed commit held: no snapshot serves it, HUGZ keeps the committed sequence', async () => {
    const s = await server({ dataDir: tempDir() });
    const c = await client(s, 1500);
    expect(await c.commit('/ok', '1')).toBe(1n);
    const write = vi.spyOn(CloneJournal.prototype, 'write').mockImplementationOnce(() => {
      throw new Error('disk full');
    });
    defer(() => write.mockRestore());
    await expect(c.commit('/lost', 'never published')).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    expect(write).toHaveBeenCalled();
    expect(s.sequence).toBe(1n);
    expect(s.stats.journalFailures).toBe(1);
    const fresh = await client(s);
    expect(fresh.get('/lost')).toBeUndefined();
    // between the failure and the next commit, HUGZ says the committed sequence
    expect(await nextHugz(s.endpoints.publisher)).toBe(1n);
    // The next commit gets the next sequence, and the client that followed all along never
    // resyncs (a HUGZ ahead of it would make it). The fresh client may resync once for a reason
    // of its own: its subscription can reach the server after '/next' is published (the slow
    // joiner), and the next HUGZ (2) is then ahead of its snapshot (1). It converges either way.
    expect(await c.commit('/next', '2')).toBe(2n);
    await eventually(() => fresh.get('/next') !== undefined, { what: 'fresh client follows' });
    expect({ followingClientGaps: c.stats.gaps }).toEqual({ followingClientGaps: 0 });
  });

  it('turns healthy again once the journal takes writes, and says so on the status feed', async () => {
    const s = await server({ dataDir: tempDir() });
    const events = feed(s);
    const c = await client(s, 1500);
    await c.commit('/ok', '1');
    const write = failJournal('write', () => true);
    await expect(c.commit('/lost', 'x')).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    expect(s.health.ok).toBe(false);
    write.mockRestore();
    // no write needed: the server retries on its own
    await eventually(() => s.health.ok, { what: 'healthy again' });
    expect(events.filter((e) => e === 'unhealthy' || e === 'healthy')).toEqual(['unhealthy', 'healthy']);
  });
});

/** The sequence of the next HUGZ published at `publisher` (a bare subscriber). */
async function nextHugz(publisher: string): Promise<bigint> {
  const sub = new zmq.Subscriber({ linger: 0, receiveTimeout: 10_000 });
  try {
    sub.subscribe('HUGZ');
    sub.connect(publisher);
    for (;;) {
      const [key, seq] = await sub.receive();
      if (key?.toString() === 'HUGZ' && seq?.length === 8) return seq.readBigUInt64BE(0);
    }
  } finally {
    sub.close();
  }
}

/** The `type` of every status event of `s` from now on. */
function feed(s: CloneServer): string[] {
  const events: string[] = [];
  void (async () => {
    for await (const e of s.status()) events.push(e.type);
  })();
  return events;
}

/** Make `method` of every journal throw while `when(path)` says so (the disk is full). */
function failJournal(method: 'write' | 'replace', when: (path: string) => boolean) {
  const proto = CloneJournal.prototype;
  const real = Object.getOwnPropertyDescriptor(proto, method)?.value as CloneJournal['write'];
  const spy = vi.spyOn(proto, method).mockImplementation(function (
    this: CloneJournal,
    ...args: Parameters<CloneJournal['write']>
  ) {
    if (when(this.path)) throw new Error('disk full');
    real.apply(this, args);
  });
  defer(() => spy.mockRestore());
  return spy;
}

/** The map a server restarted alone from `dataDir` serves, and its sequence. */
async function restartedFrom(dataDir: string): Promise<{ map: [string, string][]; sequence: bigint }> {
  const s = await server({ dataDir });
  const c = await client(s);
  const out = { map: sorted(c), sequence: s.sequence };
  await c.close();
  await s.close();
  return out;
}

function sorted(c: CloneClient): [string, string][] {
  return c
    .entries()
    .map(([k, v]): [string, string] => [k, v.toString()])
    .sort(([a], [b]) => a.localeCompare(b));
}

describe('a passive whose journal fails', () => {
  /** A pair whose backup keeps a journal in `dataDir`. */
  async function journaledPair(dataDir: string, before?: (p: CloneServer) => Promise<void>) {
    const [pState, bState] = [ipcEndpoint('pj-state'), ipcEndpoint('bj-state')];
    const p = track(
      new CloneServer({
        heartbeatIntervalMs: 50,
        pair: {
          role: 'primary',
          stateBind: pState,
          stateConnect: bState,
          heartbeatIntervalMs: 200,
          peer: { snapshot: ipcEndpoint('pj-u1'), publisher: ipcEndpoint('pj-u2') },
        },
      }),
    );
    await p.start();
    const writer = track(new CloneClient({ servers: [{ ...p.endpoints }], peerTtlMs: 2000 }));
    await writer.start();
    await before?.(p);
    for (let i = 0; i < 5; i += 1) await writer.commit(`/before/${i}`, `v${i}`);
    const b = track(
      new CloneServer({
        heartbeatIntervalMs: 50,
        flushIntervalMs: 50,
        dataDir,
        pair: {
          role: 'backup',
          stateBind: bState,
          stateConnect: pState,
          heartbeatIntervalMs: 200,
          peer: { snapshot: p.endpoints.snapshot, publisher: p.endpoints.publisher },
        },
      }),
    );
    return { p, b, writer };
  }

  it('a failed batch: the journal is rewritten whole, never a newer sequence over a map missing it', async () => {
    const dir = tempDir();
    const { p, b, writer } = await journaledPair(dir);
    const events = feed(b);
    await b.start();
    await eventually(() => b.role === 'passive' && b.sequence === p.sequence, { what: 'backup following' });
    let failing = true;
    failJournal('write', (path) => failing && path.startsWith(dir));
    await writer.commit('/lost-batch', 'kept');
    await eventually(() => b.stats.journalFailures >= 1 && b.sequence === p.sequence, { what: 'backup batch failed' });
    failing = false;
    const commits = b.stats.commits;
    await writer.commit('/after', 'next');
    await eventually(() => b.sequence === p.sequence && b.stats.commits > commits, { what: 'backup wrote again' });
    const healthy = b.health.ok;
    const expected = { map: sorted(writer), sequence: p.sequence };
    await b.close();
    expect(await restartedFrom(dir)).toEqual(expected);
    expect(healthy).toBe(true);
    expect(events.filter((e) => e === 'unhealthy' || e === 'healthy')).toEqual(['unhealthy', 'healthy']);
  });

  it('a failed snapshot replace: the next write replaces it, so a restart serves the map its sequence says', async () => {
    const dir = tempDir();
    const { p, b, writer } = await journaledPair(dir);
    let failing = true;
    const replace = failJournal('replace', (path) => failing && path.startsWith(dir));
    const events = feed(b);
    await b.start();
    await eventually(() => b.role === 'passive' && b.sequence === p.sequence && replace.mock.calls.length > 0, {
      what: 'backup snapshot taken, journal replace failed',
    });
    failing = false;
    const commits = b.stats.commits;
    await writer.commit('/after', 'next');
    await eventually(() => b.sequence === p.sequence && b.stats.commits > commits, { what: 'backup wrote again' });
    const healthy = b.health.ok;
    const expected = { map: sorted(writer), sequence: p.sequence };
    await b.close();
    expect(await restartedFrom(dir)).toEqual(expected);
    expect(healthy).toBe(true);
    expect(events.filter((e) => e === 'unhealthy' || e === 'healthy')).toEqual(['unhealthy', 'healthy']);
  });
});

/**
 * A pair whose backup follows the primary's update stream through a TCP proxy. The primary's own
 * peer link is never used (it stays active). Clients write to both collectors.
 */
async function proxiedPair(): Promise<{ p: CloneServer; b: CloneServer; link: TcpProxy; servers: CloneServer[] }> {
  const [pState, bState] = [ipcEndpoint('pf-state'), ipcEndpoint('bf-state')];
  const p = track(
    new CloneServer({
      heartbeatIntervalMs: 50,
      flushIntervalMs: 50,
      pair: {
        role: 'primary',
        stateBind: pState,
        stateConnect: bState,
        heartbeatIntervalMs: 200,
        peer: { snapshot: ipcEndpoint('unused'), publisher: ipcEndpoint('unused') },
      },
    }),
  );
  await p.start();
  const link = track(await startTcpProxy({ target: p.endpoints.publisher }));
  const b = track(
    new CloneServer({
      heartbeatIntervalMs: 50,
      flushIntervalMs: 50,
      peerTtlMs: 60_000, // only a gap makes it resync here
      pair: {
        role: 'backup',
        stateBind: bState,
        stateConnect: pState,
        heartbeatIntervalMs: 200,
        peer: { snapshot: p.endpoints.snapshot, publisher: link.endpoint },
      },
    }),
  );
  await b.start();
  await eventually(() => p.role === 'active' && b.role === 'passive', { what: 'pair settled' });
  return { p, b, link, servers: [p, b] };
}

async function pairClient(servers: CloneServer[]): Promise<CloneClient> {
  const c = track(new CloneClient({ servers: servers.map((s) => ({ ...s.endpoints })), peerTtlMs: 1000 }));
  await c.start();
  return c;
}

describe('pending replay on failover', () => {
  it('does not replay a write the active sequenced and overwrote while the passive was resyncing', async () => {
    const { p, b, link, servers } = await proxiedPair();
    const c = await pairClient(servers);
    await c.commit('/warm', 'up');
    await eventually(() => b.sequence === p.sequence, { what: 'backup following' });
    link.cut(); // the stream to the backup is lost; the client copies still reach its collector
    await c.commit('/k', 'old');
    await c.commit('/k', 'new');
    await eventually(() => b.pendingCount >= 2, { what: 'client copies pending on the backup' });
    link.forward(); // the backup sees a HUGZ ahead of it and takes a snapshot: /k is new there
    await eventually(() => b.sequence === p.sequence && b.size === p.size, { what: 'backup resynced' });
    await p.close();
    await eventually(() => b.role === 'active' && c.currentServer === 1, { what: 'failover', timeoutMs: 20_000 });
    await c.commit('/after', 'failover');
    expect(c.get('/k')?.toString()).toBe('new');
    // the snapshot could not say whether the two held writes were sequenced: both are dropped,
    // none is replayed (a replay of both would also end with 'new', so count them)
    expect(b.stats.pendingDropped).toBeGreaterThanOrEqual(2);
    expect(b.stats.replayed).toBe(0);
  });

  it('never replays a client copy that reaches the passive long after the active sequenced it', async () => {
    const [pState, bState] = [ipcEndpoint('pl-state'), ipcEndpoint('bl-state')];
    const pair = (role: 'primary' | 'backup', peer: ClonePairOptions['peer']): ClonePairOptions => ({
      role,
      stateBind: role === 'primary' ? pState : bState,
      stateConnect: role === 'primary' ? bState : pState,
      heartbeatIntervalMs: 200,
      peer,
    });
    const p = track(
      new CloneServer({
        heartbeatIntervalMs: 50,
        pair: pair('primary', { snapshot: ipcEndpoint('pl-u1'), publisher: ipcEndpoint('pl-u2') }),
      }),
    );
    await p.start();
    // the backup's clock can be moved ahead: 11 s pass for it in an instant
    let skew = 0;
    const clock: Clock = {
      now: () => performance.now() + skew,
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
    };
    const b = track(
      new CloneServer({
        heartbeatIntervalMs: 50,
        peerTtlMs: 60_000,
        clock,
        pair: pair('backup', { snapshot: p.endpoints.snapshot, publisher: p.endpoints.publisher }),
      }),
    );
    await b.start();
    await eventually(() => p.role === 'active' && b.role === 'passive', { what: 'pair settled' });
    // writer `late` reaches the backup's collector through a link that holds its bytes
    const link = track(await startTcpProxy({ target: b.endpoints.collector }));
    const late = track(
      new CloneClient({
        servers: [{ ...p.endpoints }, { ...b.endpoints, collector: link.endpoint }],
        peerTtlMs: 1000,
      }),
    );
    const prompt = await pairClient([p, b]);
    await late.start();
    await late.commit('/warm', 'up');
    await eventually(() => b.sequence === p.sequence, { what: 'backup following' });

    link.blackhole();
    await late.commit('/k', 'old'); // acknowledged; its copy to the backup is held
    await prompt.commit('/k', 'new'); // acknowledged later: the value to keep
    await eventually(() => b.sequence === p.sequence, { what: 'backup replicated both' });
    // a probe only the backup holds (no UUID, never published): its pruning shows the backup's
    // pending timer has run past the 11 s
    const probe = track(new zmq.XPublisher({ linger: 0 }));
    probe.connect(b.endpoints.collector);
    await probe.receive();
    await probe.send(
      encodeKvMsg({
        key: '/probe',
        sequence: 0n,
        uuid: Buffer.alloc(0),
        properties: new Map(),
        body: Buffer.from('x'),
      }),
    );
    await eventually(() => b.pendingCount === 1, { what: 'probe pending' });
    skew += 11_000;
    await eventually(() => b.stats.pendingExpired === 1, { what: 'the backup pruned what is 11 s old' });

    link.forward(); // the copy of 'old' reaches the backup 11 s (by its clock) after it was sequenced
    await eventually(() => b.pendingCount + b.stats.duplicates >= 1, { what: 'late copy handled' });
    await p.close();
    await eventually(() => b.role === 'active' && prompt.currentServer === 1, {
      what: 'failover',
      timeoutMs: 20_000,
    });
    await prompt.commit('/after', 'failover');
    expect(prompt.get('/k')?.toString()).toBe('new');
    expect(b.stats.replayed).toBe(0);
  });

  it('does not replay an update without a UUID that the active published', async () => {
    const { p, b, servers } = await proxiedPair();
    const c = await pairClient(servers);
    // a writer of the book's kind: no UUID, to both collectors
    const writers = servers.map((s) => {
      const w = track(new zmq.XPublisher({ linger: 0 }));
      w.connect(s.endpoints.collector);
      return w;
    });
    await Promise.all(writers.map((w) => w.receive()));
    const anonymous = encodeKvMsg({
      key: '/anon',
      sequence: 0n,
      uuid: Buffer.alloc(0),
      properties: new Map(),
      body: Buffer.from('A'),
    });
    for (const w of writers) await w.send(anonymous);
    await eventually(() => c.get('/anon')?.toString() === 'A', { what: 'anonymous write published' });
    await c.commit('/anon', 'B');
    await eventually(() => b.sequence === p.sequence, { what: 'backup caught up' });
    await p.close();
    await eventually(() => b.role === 'active' && c.currentServer === 1, { what: 'failover', timeoutMs: 20_000 });
    await c.commit('/after', 'failover');
    expect(c.get('/anon')?.toString()).toBe('B');
    expect(b.stats.replayed).toBe(0);
  });
});

describe('split brain', () => {
  it('a primary restarted without its journal and voted active loses to the backup holding the map; its own writes are handed over', async () => {
    const [pPort, bPort] = [await freePortRange(1), await freePortRange(1)];
    const pStateBind = `tcp://127.0.0.1:${pPort}`;
    const bStateBind = `tcp://127.0.0.1:${bPort}`;
    // the Binary Star state link, both ways, through proxies that can cut it
    const toP = track(await startTcpProxy({ target: pStateBind }));
    const toB = track(await startTcpProxy({ target: bStateBind }));
    const ep = (name: string) => ({
      snapshot: ipcEndpoint(`${name}-snap`),
      publisher: ipcEndpoint(`${name}-pub`),
      collector: ipcEndpoint(`${name}-col`),
    });
    const [pEp, bEp] = [ep('sbp'), ep('sbb')];
    const make = (role: 'primary' | 'backup', dataDir: string) => {
      const [me, peer] = role === 'primary' ? [pEp, bEp] : [bEp, pEp];
      return track(
        new CloneServer({
          heartbeatIntervalMs: 50,
          flushIntervalMs: 50,
          peerTtlMs: 2000,
          dataDir,
          snapshotBind: me.snapshot,
          publisherBind: me.publisher,
          collectorBind: me.collector,
          pair: {
            role,
            heartbeatIntervalMs: 200,
            stateBind: role === 'primary' ? pStateBind : bStateBind,
            stateConnect: role === 'primary' ? toB.endpoint : toP.endpoint,
            peer,
          },
        }),
      );
    };
    const p = make('primary', tempDir());
    const b = make('backup', tempDir());
    await Promise.all([p.start(), b.start()]);
    await eventually(() => p.role === 'active' && b.role === 'passive', { what: 'pair settled' });
    const c = track(new CloneClient({ servers: [pEp, bEp], peerTtlMs: 1000 }));
    await c.start();
    for (let i = 0; i < 20; i += 1) await c.commit(`/map/${i}`, `v${i}`);
    await eventually(() => b.sequence === p.sequence, { what: 'backup caught up' });

    // the state link goes down and the primary dies: the client's vote makes the backup active
    toP.cut();
    toB.cut();
    await p.close();
    await eventually(() => b.role === 'active' && c.currentServer === 1, { what: 'failover', timeoutMs: 20_000 });
    await c.commit('/backup-side', 'acknowledged');

    // the primary comes back without its journal; a client that reaches only it votes it active
    const p2Dir = tempDir();
    const p2 = make('primary', p2Dir);
    await p2.start();
    const lone = track(new CloneClient({ servers: [pEp], peerTtlMs: 1000 }));
    await lone.start();
    expect(p2.role).toBe('active');
    await lone.commit('/primary-side', 'acknowledged too');
    const before = b.sequence;
    expect(before).toBeGreaterThan(p2.sequence);

    // the link heals: both active; the backup holds more, so it stays
    toP.forward();
    toB.forward();
    await eventually(() => p2.role === 'passive', { what: 'the emptier primary steps down', timeoutMs: 20_000 });
    await eventually(() => b.size === 22 && p2.size === 22, { what: 'both maps whole', timeoutMs: 20_000 });
    expect(b.role).toBe('active');
    expect(b.sequence).toBeGreaterThan(before);
    for (let i = 0; i < 20; i += 1) expect(c.get(`/map/${i}`)?.toString()).toBe(`v${i}`);
    await eventually(() => c.get('/primary-side') !== undefined, { what: 'handed-over write reaches clients' });
    expect(c.get('/backup-side')?.toString()).toBe('acknowledged');
    expect(p2.stats.splitBrains + b.stats.splitBrains).toBeGreaterThanOrEqual(1);
    expect(p2.stats.splitBrainHandedOver).toBeGreaterThanOrEqual(1);
    // and the loser kept what it had sequenced in a file beside its journal
    const kept = readdirSync(p2Dir).filter((f) => f.startsWith('split-brain-'));
    expect(kept).toHaveLength(1);
    expect(readFileSync(join(p2Dir, kept[0] ?? ''), 'utf8')).toContain('"key":"/primary-side"');
  });
});

describe('concurrent snapshots', () => {
  it('copies at most maxConcurrentSnapshots at a time; the others wait their turn and arrive whole', async () => {
    const s = await server({ maxConcurrentSnapshots: 1, snapshotSendTimeoutMs: 500 });
    const writer = await client(s);
    for (let i = 0; i < 1500; i += 1) writer.set(`/big/${i}`, `v${i}`.padEnd(4000, '.'));
    await writer.commit('/big/last', 'x');
    // one client asks and never reads: it holds the only slot until its snapshot is abandoned
    const stuck = track(new zmq.Dealer({ linger: 0, receiveHighWaterMark: 10, receiveBufferSize: 4096 }));
    stuck.connect(s.endpoints.snapshot);
    await stuck.send(encodeIcanhaz(''));
    await eventually(() => s.stats.snapshots >= 2, { what: 'the stuck request arrived' });
    const readers = await Promise.all([client(s), client(s)]);
    expect(s.stats.snapshotsQueued).toBeGreaterThanOrEqual(1);
    for (const r of readers) expect(r.size).toBe(1501);
  });

  it('one snapshot at a time per client: a peer repeating ICANHAZ? cannot fill the wait queue', async () => {
    const s = await server({ maxConcurrentSnapshots: 1, snapshotSendTimeoutMs: 500 });
    const writer = await client(s);
    for (let i = 0; i < 1500; i += 1) writer.set(`/big/${i}`, `v${i}`.padEnd(4000, '.'));
    await writer.commit('/big/last', 'x');
    const before = { ...s.stats };
    const greedy = track(new zmq.Dealer({ linger: 0, receiveHighWaterMark: 10, receiveBufferSize: 4096 }));
    greedy.connect(s.endpoints.snapshot);
    for (let i = 0; i < 50; i += 1) await greedy.send(encodeIcanhaz(''));
    await eventually(() => s.stats.snapshots >= before.snapshots + 50, { what: 'the 50 requests arrived' });
    expect(s.stats.refusedSnapshots - before.refusedSnapshots).toBe(49);
    expect(s.stats.snapshotsQueued).toBe(before.snapshotsQueued);
    const reader = await client(s);
    expect(reader.size).toBe(1501);
  });
});
