/**
 * Real sockets, one process: gap detection behind a lossy proxy, the SQLite journal across a
 * restart, the Binary Star pair (replication, failover, pending replay), client failover,
 * commit() and watch() back-pressure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '@zpatterns/core';
import { eventually, ipcEndpoint, useDisposables } from '@zpatterns/testkit';
import * as zmq from 'zeromq';
import { describe, expect, it, vi } from 'vitest';

vi.setConfig({ testTimeout: 60_000 }); // pairs and large snapshots, on a loaded 2-core machine
import { CloneClient } from '../src/client.js';
import type { CloneChange, CloneClientStatus } from '../src/client-options.js';
import { WatchOverflowError } from '../src/errors.js';
import { decodeKvMsg, encodeIcanhaz, encodeKvMsg, newUuid, type KvMsg } from '../src/kvmsg.js';
import { CloneServer, type CloneServerOptions, type CloneServerStatus } from '../src/server.js';

const { track, defer } = useDisposables();
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'clone-test-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const FAST = { heartbeatIntervalMs: 50, flushIntervalMs: 50 } as const;

async function server(options: CloneServerOptions = {}): Promise<CloneServer> {
  const s = track(new CloneServer({ ...FAST, ...options }));
  await s.start();
  return s;
}

async function client(
  servers: CloneServer['endpoints'][],
  options: { subtrees?: string[]; peerTtlMs?: number } = {},
): Promise<CloneClient> {
  const c = track(new CloneClient({ servers: servers.map((e) => ({ ...e })), peerTtlMs: 2000, ...options }));
  await c.start();
  return c;
}

/** Every status event of `target` from now on, besides `started` and `closed`. */
function record<T extends { readonly type: string }>(target: {
  status(): AsyncIterable<T | { readonly type: 'started' } | { readonly type: 'closed' }>;
}): T[] {
  const events: T[] = [];
  void (async () => {
    for await (const event of target.status()) {
      if (event.type !== 'started' && event.type !== 'closed') events.push(event as T);
    }
  })();
  return events;
}

/** A PUB that forwards `publisher`'s stream except the messages `drop` picks; returns its endpoint. */
async function lossyProxy(publisher: string, drop: (msg: KvMsg) => boolean): Promise<string> {
  const upstream = track(new zmq.Subscriber({ linger: 0 }));
  upstream.subscribe();
  upstream.connect(publisher);
  const downstream = track(new zmq.Publisher({ linger: 0 }));
  await downstream.bind('tcp://127.0.0.1:*');
  void (async () => {
    for await (const frames of upstream) if (!drop(decodeKvMsg(frames))) await downstream.send(frames);
  })().catch(() => undefined);
  return downstream.lastEndpoint ?? '';
}

describe('gap detection', () => {
  it('a client behind a proxy that drops one KVPUB notices the gap, resyncs and converges', async () => {
    const s = await server();
    let dropped = 0;
    const proxy = await lossyProxy(
      s.endpoints.publisher,
      (msg) => msg.key !== 'HUGZ' && msg.sequence === 5n && dropped++ === 0,
    );
    const lossy = await client([{ ...s.endpoints, publisher: proxy }]);
    const seen = record<CloneClientStatus>(lossy);
    const writer = await client([s.endpoints]);
    for (let i = 1; i <= 10; i += 1) await writer.commit(`/k/${i}`, `v${i}`);
    await eventually(() => lossy.sequence === 10n && lossy.size === 10, { what: 'lossy client converged' });
    expect(dropped).toBe(1);
    expect(lossy.stats.gaps).toBeGreaterThanOrEqual(1);
    expect(seen[0]).toEqual({ type: 'resync', peer: s.endpoints.snapshot, reason: 'gap' });
    expect(seen.filter((e) => e.type !== 'resync')).toEqual([]); // no failover, no dead server
    expect(lossy.entries().sort()).toEqual(writer.entries().sort());
  });

  it('a dropped last update is caught by the next HUGZ (its sequence is ahead)', async () => {
    const s = await server();
    const proxy = await lossyProxy(s.endpoints.publisher, (msg) => msg.key === '/only');
    const lossy = await client([{ ...s.endpoints, publisher: proxy }]);
    const seen = record<CloneClientStatus>(lossy);
    const writer = await client([s.endpoints]);
    await writer.commit('/only', 'x');
    await eventually(() => lossy.get('/only')?.toString() === 'x', { what: 'resync after HUGZ' });
    expect(seen[0]).toEqual({ type: 'resync', peer: s.endpoints.snapshot, reason: 'behind' });
  });
});

describe('snapshots larger than the high-water mark', () => {
  it('3,000 keys of 4 KB arrive whole, while another client that asked stops reading', async () => {
    const s = await server({ snapshotSendTimeoutMs: 500 });
    const writer = await client([s.endpoints]);
    // more messages than the snapshot socket's high-water mark (1,000)
    for (let i = 0; i < 3000; i += 1) writer.set(`/big/${i}`, `value-${i}`.padEnd(4000, '.'));
    await writer.commit('/big/last', 'x');
    expect(s.size).toBe(3001);
    // a raw client that asks and never reads (tiny buffers, nothing read)
    const stuck = track(new zmq.Dealer({ linger: 0, receiveHighWaterMark: 10, receiveBufferSize: 4096 }));
    stuck.connect(s.endpoints.snapshot);
    await stuck.send(encodeIcanhaz(''));
    const reader = await client([s.endpoints]);
    expect(reader.size).toBe(3001);
    // compared as strings: a deep equality of 3,001 4 KB buffers takes tens of seconds under load
    const flat = (c: CloneClient) =>
      c
        .entries()
        .map(([k, v]) => `${k}=${v.toString()}`)
        .sort();
    expect(flat(reader)).toEqual(flat(writer));
  });
});

describe('journal (dataDir)', () => {
  it('a restarted server keeps its map, its sequence and the TTL clock', async () => {
    const dataDir = tempDir();
    const first = new CloneServer({ ...FAST, dataDir });
    await first.start();
    const writer = new CloneClient({ servers: [{ ...first.endpoints }], peerTtlMs: 500 });
    await writer.start();
    for (let i = 0; i < 100; i += 1) await writer.commit(`/k/${i % 40}`, `v${i}`);
    await writer.commit('/k/3', '');
    await writer.commit('/short', 'gone soon', { ttlMs: 1000 });
    const before = writer.entries().sort();
    const sequence = first.sequence;
    await writer.close();
    await first.close();

    const second = await server({ dataDir });
    expect(second.sequence).toBe(sequence);
    const reader = await client([second.endpoints]);
    expect(reader.entries().sort()).toEqual(before);
    // the sequence continues, it is not reused
    expect(await reader.commit('/k/new', 'after')).toBe(sequence + 1n);
    // the TTL kept running across the restart: the key expires and the delete is published
    await eventually(() => reader.get('/short') === undefined, { what: 'ttl expiry after restart' });
    expect(second.stats.expired).toBe(1);
  });

  it('a second server on the same data directory fails to start', async () => {
    const dataDir = tempDir();
    await server({ dataDir });
    const other = new CloneServer({ dataDir });
    await expect(other.start()).rejects.toThrow(/locked/);
    await other.close();
  });
});

describe('Binary Star pair', () => {
  function pair(common: CloneServerOptions = {}) {
    const ep = (p: string) => ({
      snapshotBind: ipcEndpoint(`${p}-snap`),
      publisherBind: ipcEndpoint(`${p}-pub`),
      collectorBind: ipcEndpoint(`${p}-col`),
      stateBind: ipcEndpoint(`${p}-state`),
    });
    const p = ep('primary');
    const b = ep('backup');
    const make = (role: 'primary' | 'backup', me: typeof p, peer: typeof p) =>
      new CloneServer({
        ...FAST,
        ...common,
        snapshotBind: me.snapshotBind,
        publisherBind: me.publisherBind,
        collectorBind: me.collectorBind,
        peerTtlMs: 2000,
        pair: {
          role,
          stateBind: me.stateBind,
          stateConnect: peer.stateBind,
          heartbeatIntervalMs: 500,
          peer: { snapshot: peer.snapshotBind, publisher: peer.publisherBind },
        },
      });
    const addresses = [p, b].map((e) => ({
      snapshot: e.snapshotBind,
      publisher: e.publisherBind,
      collector: e.collectorBind,
    }));
    return {
      addresses,
      primary: () => track(make('primary', p, b)),
      backup: () => track(make('backup', b, p)),
    };
  }

  it('the passive replicates the active; after the active dies, clients fail over with nothing lost', async () => {
    const { addresses, primary, backup } = pair();
    const p = primary();
    const b = backup();
    const [pSeen, bSeen] = [record<CloneServerStatus>(p), record<CloneServerStatus>(b)];
    await Promise.all([p.start(), b.start()]);
    await eventually(() => p.role === 'active' && b.role === 'passive', { what: 'pair settled' });
    expect(pSeen[0]).toEqual({ type: 'role', from: 'deciding', to: 'active' });
    expect(bSeen[0]).toEqual({ type: 'role', from: 'deciding', to: 'passive' });
    const c1 = await client(addresses);
    const c2 = await client(addresses);
    const c1Seen = record<CloneClientStatus>(c1);
    for (let i = 0; i < 200; i += 1) await (i % 2 === 0 ? c1 : c2).commit(`/k/${i % 50}`, `v${i}`);
    await c1.commit('/ttl', 'x', { ttlMs: 1000 });
    await eventually(() => b.sequence === p.sequence && b.size === p.size, { what: 'backup caught up' });
    expect(b.stats.expired).toBe(0);
    const expected = c1.entries().filter(([k]) => k !== '/ttl');
    const before = p.sequence;
    await p.close();
    // clients miss HUGZ, ask the backup for a snapshot: that vote makes it active
    await eventually(() => b.role === 'active' && c1.currentServer === 1 && c2.currentServer === 1, {
      what: 'failover',
      timeoutMs: 20_000,
    });
    const after = await c2.commit('/after', 'failover');
    expect(after).toBeGreaterThan(before);
    const [primaryAt, backupAt] = [addresses[0]?.snapshot, addresses[1]?.snapshot];
    expect(c1Seen.filter((e) => e.type !== 'resync').slice(0, 3)).toEqual([
      { type: 'disconnected', peer: primaryAt, reason: 'silent', silentMs: expect.any(Number) as unknown },
      { type: 'failover', from: primaryAt, to: backupAt },
      { type: 'connected', peer: backupAt },
    ]);
    // the backup saw its peer go quiet, then took over
    expect(bSeen.filter((e) => e.type === 'role')).toEqual([
      { type: 'role', from: 'deciding', to: 'passive' },
      { type: 'role', from: 'passive', to: 'active' },
    ]);
    expect(bSeen).toContainEqual({ type: 'connected', peer: primaryAt });
    await eventually(() => c1.get('/after') !== undefined, { what: 'c1 follows the new active' });
    // the TTL key expires on the new active (only the active expires)
    await eventually(() => c1.get('/ttl') === undefined, { what: 'ttl expiry on the new active' });
    expect(
      c1
        .entries()
        .filter(([k]) => k !== '/after')
        .sort(),
    ).toEqual(expected.sort());
    expect(c2.entries().sort()).toEqual(c1.entries().sort());
  });

  it('client updates the active never published are replayed by the backup when it takes over', async () => {
    const { addresses, primary, backup } = pair();
    const p = primary();
    const b = backup();
    await Promise.all([p.start(), b.start()]);
    await eventually(() => p.role === 'active' && b.role === 'passive', { what: 'pair settled' });
    const c = await client(addresses);
    await c.commit('/seen', 'by both');
    // A writer that reaches only the backup's collector: the active never sees these. An XPUB, so
    // the collector's subscription is an event to await rather than a race.
    const writer = track(new zmq.XPublisher({ linger: 0 }));
    writer.connect(addresses[1]?.collector ?? '');
    await writer.receive();
    for (let i = 0; i < 5; i += 1) {
      await writer.send(
        encodeKvMsg({
          key: `/lost/${i}`,
          sequence: 0n,
          uuid: newUuid(),
          properties: new Map(),
          body: Buffer.from(`${i}`),
        }),
      );
    }
    await eventually(() => b.pendingCount >= 5, { what: 'pending held by the backup' });
    expect(c.get('/lost/0')).toBeUndefined();
    await p.close();
    await eventually(() => b.role === 'active' && c.currentServer === 1, { what: 'failover', timeoutMs: 20_000 });
    await eventually(() => c.get('/lost/4')?.toString() === '4', { what: 'pending replayed' });
    expect(b.stats.replayed).toBeGreaterThanOrEqual(5);
    expect(c.get('/seen')?.toString()).toBe('by both');
  });
});

describe('client', () => {
  it('follows a single server through its restart (HUGZ below its sequence) and converges', async () => {
    const endpoint = `ipc://${join(tempDir(), 'snap.sock')}`;
    const eps = {
      snapshotBind: endpoint,
      publisherBind: endpoint.replace('snap', 'pub'),
      collectorBind: endpoint.replace('snap', 'col'),
    };
    const first = new CloneServer({ ...FAST, ...eps });
    await first.start();
    const c = await client([first.endpoints]);
    for (let i = 0; i < 5; i += 1) await c.commit(`/k/${i}`, 'old');
    await first.close();
    const second = await server(eps); // no journal: starts empty at sequence 0
    const w = await client([second.endpoints]);
    await w.commit('/fresh', 'new');
    await eventually(() => c.size === 1 && c.get('/fresh') !== undefined, { what: 'client resynced' });
  });

  it('commit() resolves with the sequence; a key outside the subtrees is refused', async () => {
    const s = await server();
    const c = await client([s.endpoints], { subtrees: ['/a/'] });
    expect(await c.commit('/a/1', 'x')).toBe(1n);
    await expect(c.commit('/b/1', 'x')).rejects.toThrow(InvalidArgumentError);
  });

  it('a watcher that falls too far behind gets WatchOverflowError, others are unaffected', async () => {
    const s = await server();
    const c = track(new CloneClient({ servers: [{ ...s.endpoints }], maxWatchBacklog: 10 }));
    await c.start();
    const slow = c.watch('');
    const first = slow.next(); // parked: it reads one change, then nobody reads
    const fast: string[] = [];
    let caughtUp: { count: number; resolve: () => void } | undefined;
    const reading = (async () => {
      for await (const ch of c.watch('')) {
        fast.push(ch.key);
        if (caughtUp !== undefined && fast.length >= caughtUp.count) caughtUp.resolve();
        if (fast.length === 50) return;
      }
    })();
    // five writes at a time, each five read by the fast watcher before the next (the replica may
    // apply a batch of updates faster than a watcher's loop turns): it is never 10 behind, the
    // parked one falls 49 behind
    for (let i = 0; i < 50; i += 5) {
      const read = new Promise<void>((resolve) => (caughtUp = { count: i + 5, resolve }));
      for (let j = i; j < i + 5; j += 1) c.set(`/k/${j}`, 'v');
      await read;
    }
    await reading;
    const head: IteratorResult<CloneChange> = await first;
    expect(head.done === true ? undefined : head.value.key).toBe('/k/0');
    await expect(
      (async () => {
        for await (const _ of slow) void _;
      })(),
    ).rejects.toThrow(WatchOverflowError);
    expect(c.stats.watchOverflows).toBe(1);
  });
});
