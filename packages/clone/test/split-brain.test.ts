/**
 * Split brains made for real: every link between the two servers of a pair (Binary Star state both
 * ways, each one's snapshot, update and collector ports) goes through a TCP proxy, the pair is cut
 * while clients write to both sides, and healed link by link.
 */
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
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
import { describe, expect, it, vi } from 'vitest';
import { CloneClient } from '../src/client.js';
import { CloneServer, type CloneServerOptions, type CloneServerStatus } from '../src/server.js';

vi.setConfig({ testTimeout: 90_000 });

const { track, defer } = useDisposables();

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'clone-split-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

type Side = 'primary' | 'backup';

/** The proxies of every link between the servers, by kind; each kind holds both directions. */
interface Links {
  state: TcpProxy[];
  snapshot: TcpProxy[];
  publisher: TcpProxy[];
  collector: TcpProxy[];
}

async function proxiedPair(options: Partial<Record<Side, CloneServerOptions>> = {}) {
  const ports = { primary: await freePortRange(1), backup: await freePortRange(1) };
  const own = (side: Side) => ({
    snapshot: ipcEndpoint(`sb-${side}-snap`),
    publisher: ipcEndpoint(`sb-${side}-pub`),
    collector: ipcEndpoint(`sb-${side}-col`),
  });
  const endpoints = { primary: own('primary'), backup: own('backup') };
  const proxy = async (target: string) =>
    track(
      await startTcpProxy({
        target: target.startsWith('ipc://') ? { path: target.slice('ipc://'.length) } : target,
      }),
    );
  // to[side]: how the other server reaches `side`
  const to = {} as Record<Side, { state: TcpProxy; snapshot: TcpProxy; publisher: TcpProxy; collector: TcpProxy }>;
  for (const side of ['primary', 'backup'] as const) {
    to[side] = {
      state: await proxy(`tcp://127.0.0.1:${ports[side]}`),
      snapshot: await proxy(endpoints[side].snapshot),
      publisher: await proxy(endpoints[side].publisher),
      collector: await proxy(endpoints[side].collector),
    };
  }
  const links: Links = { state: [], snapshot: [], publisher: [], collector: [] };
  for (const side of ['primary', 'backup'] as const) {
    for (const kind of ['state', 'snapshot', 'publisher', 'collector'] as const) links[kind].push(to[side][kind]);
  }
  const make = (side: Side) => {
    const other: Side = side === 'primary' ? 'backup' : 'primary';
    return track(
      new CloneServer({
        heartbeatIntervalMs: 50,
        flushIntervalMs: 50,
        peerTtlMs: 2000,
        snapshotBind: endpoints[side].snapshot,
        publisherBind: endpoints[side].publisher,
        collectorBind: endpoints[side].collector,
        ...options[side],
        pair: {
          role: side,
          heartbeatIntervalMs: 200,
          stateBind: `tcp://127.0.0.1:${ports[side]}`,
          stateConnect: to[other].state.endpoint,
          peer: {
            snapshot: to[other].snapshot.endpoint,
            publisher: to[other].publisher.endpoint,
            collector: to[other].collector.endpoint,
          },
        },
      }),
    );
  };
  return { make, endpoints, links };
}

function splitBrains(s: CloneServer): Extract<CloneServerStatus, { type: 'split-brain' }>[] {
  const events: Extract<CloneServerStatus, { type: 'split-brain' }>[] = [];
  void (async () => {
    for await (const e of s.status()) if (e.type === 'split-brain') events.push(e);
  })();
  return events;
}

const every = (links: Links): TcpProxy[] => [...links.state, ...links.snapshot, ...links.publisher, ...links.collector];
const cut = (links: TcpProxy[]) => links.forEach((l) => l.cut());
const heal = (links: TcpProxy[]) => links.forEach((l) => l.forward());

describe('split brain', () => {
  it('is decided on numbers both sides agree on: exactly one stays, even while their HUGZ cannot pass', async () => {
    const { make, endpoints, links } = await proxiedPair();
    const p = make('primary');
    const b = make('backup');
    const [pEvents, bEvents] = [splitBrains(p), splitBrains(b)];
    await Promise.all([p.start(), b.start()]);
    await eventually(() => p.role === 'active' && b.role === 'passive', { what: 'pair settled' });
    const onP = track(new CloneClient({ servers: [endpoints.primary], peerTtlMs: 1000 }));
    await onP.start();
    for (let i = 0; i < 5; i += 1) await onP.commit(`/base/${i}`, `v${i}`);
    await eventually(() => b.sequence === p.sequence, { what: 'backup caught up' });

    // every link between the servers cut; a client that reaches only the backup votes it active
    cut(every(links));
    const onB = track(new CloneClient({ servers: [endpoints.backup], peerTtlMs: 1000 }));
    await onB.start();
    expect(b.role).toBe('active');
    // both sides take writes, the backup more
    for (let i = 0; i < 3; i += 1) await onP.commit(`/p/${i}`, `p${i}`);
    for (let i = 0; i < 6; i += 1) await onB.commit(`/b/${i}`, `b${i}`);
    expect(b.sequence).toBeGreaterThan(p.sequence);

    // the state link and the request ports heal; the update streams (and their HUGZ) stay cut, so
    // what each last heard of the other's sequence is from before the cut
    heal(links.state);
    heal(links.snapshot);
    heal(links.collector);
    await eventually(() => p.role === 'passive' || b.role === 'passive', { what: 'one side steps down' });
    heal(links.publisher);
    await eventually(() => p.size === 14 && b.size === 14 && p.sequence === b.sequence, {
      what: 'both maps whole',
      timeoutMs: 20_000,
    });

    expect(b.role).toBe('active');
    expect(p.role).toBe('passive');
    // exactly one side ever said it stays; both decided on the same two numbers
    expect(bEvents.every((e) => e.stays)).toBe(true);
    expect(pEvents.every((e) => !e.stays)).toBe(true);
    expect(pEvents).toHaveLength(1);
    expect(bEvents).toHaveLength(1);
    expect(pEvents[0]?.sequence).toBe(bEvents[0]?.peerSequence);
    expect(pEvents[0]?.peerSequence).toBe(bEvents[0]?.sequence);
    // each names the other by the snapshot endpoint it asks on (links: the primary's first)
    expect(pEvents[0]?.peer).toBe(links.snapshot[1]?.endpoint);
    expect(bEvents[0]?.peer).toBe(links.snapshot[0]?.endpoint);
    // and nothing acknowledged on either side is lost
    const reader = track(new CloneClient({ servers: [endpoints.backup], peerTtlMs: 1000 }));
    await reader.start();
    for (let i = 0; i < 5; i += 1) expect(reader.get(`/base/${i}`)?.toString()).toBe(`v${i}`);
    for (let i = 0; i < 3; i += 1) expect(reader.get(`/p/${i}`)?.toString()).toBe(`p${i}`);
    for (let i = 0; i < 6; i += 1) expect(reader.get(`/b/${i}`)?.toString()).toBe(`b${i}`);
  });

  it('the loser hands over everything it sequenced, past maxPending, and keeps all of it in its file', async () => {
    const pDir = tempDir();
    const { make, endpoints, links } = await proxiedPair({ primary: { dataDir: pDir, maxPending: 5 } });
    const p = make('primary');
    const b = make('backup');
    await Promise.all([p.start(), b.start()]);
    await eventually(() => p.role === 'active' && b.role === 'passive', { what: 'pair settled' });
    const onP = track(new CloneClient({ servers: [endpoints.primary], peerTtlMs: 1000 }));
    await onP.start();
    await onP.commit('/base', 'x');
    await eventually(() => b.sequence === p.sequence, { what: 'backup caught up' });

    cut(every(links));
    const onB = track(new CloneClient({ servers: [endpoints.backup], peerTtlMs: 1000 }));
    await onB.start();
    // the primary sequences 12 keys in its term, more than maxPending; the backup more still
    for (let i = 0; i < 12; i += 1) await onP.commit(`/p/${i}`, `p${i}`);
    for (let i = 0; i < 15; i += 1) await onB.commit(`/b/${i}`, `b${i}`);

    heal(every(links));
    await eventually(() => p.role === 'passive', { what: 'the primary steps down', timeoutMs: 20_000 });
    await eventually(() => b.size === 28 && p.size === 28, { what: 'both maps whole', timeoutMs: 20_000 });
    for (let i = 0; i < 12; i += 1) expect(onB.get(`/p/${i}`)?.toString()).toBe(`p${i}`);
    // its whole term: the 12 and /base, which the winner drops as a duplicate
    expect(p.stats.splitBrainHandedOver).toBe(13);
    const kept = readdirSync(pDir).filter((f) => f.startsWith('split-brain-'));
    expect(kept).toHaveLength(1);
    const lines = readFileSync(join(pDir, kept[0] ?? ''), 'utf8')
      .trim()
      .split('\n');
    expect(lines).toHaveLength(13);
  });
});
