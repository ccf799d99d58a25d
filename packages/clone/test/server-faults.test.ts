/**
 * Server faults in one process, on real sockets: a journal commit that fails, the pending list of a
 * passive across a resync, concurrent snapshots.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, ipcEndpoint, startTcpProxy, useDisposables, type TcpProxy } from '@zpatterns/testkit';
import * as zmq from 'zeromq';
import { encodeKvMsg } from '../src/kvmsg.js';
import { describe, expect, it, vi } from 'vitest';
import { CloneClient } from '../src/client.js';
import { CloneJournal } from '../src/journal.js';
import { CloneServer, type CloneServerOptions } from '../src/server.js';

vi.setConfig({ testTimeout: 60_000 });

const { track, defer } = useDisposables();

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'clone-faults-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function server(options: CloneServerOptions = {}): Promise<CloneServer> {
  const s = track(new CloneServer({ hugzIntervalMs: 50, flushIntervalMs: 50, ...options }));
  await s.start();
  return s;
}

async function client(s: CloneServer, commitTimeoutMs = 10_000): Promise<CloneClient> {
  const c = track(new CloneClient({ servers: [{ ...s.endpoints }], serverTtlMs: 2000, commitTimeoutMs }));
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
    expect(s.health).toMatchObject({ ok: false });
    const fresh = await client(s);
    expect(fresh.get('/lost')).toBeUndefined();
    // the next commit gets the next sequence, and nobody resyncs on a HUGZ ahead of them
    expect(await c.commit('/next', '2')).toBe(2n);
    await eventually(() => fresh.get('/next') !== undefined, { what: 'fresh client follows' });
    expect(c.stats.gaps + fresh.stats.gaps).toBe(0);
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
      hugzIntervalMs: 50,
      flushIntervalMs: 50,
      pair: {
        role: 'primary',
        stateBind: pState,
        stateConnect: bState,
        heartbeatMs: 200,
        peer: { snapshot: ipcEndpoint('unused'), publisher: ipcEndpoint('unused') },
      },
    }),
  );
  await p.start();
  const link = track(await startTcpProxy({ target: p.endpoints.publisher }));
  const b = track(
    new CloneServer({
      hugzIntervalMs: 50,
      flushIntervalMs: 50,
      peerTtlMs: 60_000, // only a gap makes it resync here
      pair: {
        role: 'backup',
        stateBind: bState,
        stateConnect: pState,
        heartbeatMs: 200,
        peer: { snapshot: p.endpoints.snapshot, publisher: link.endpoint },
      },
    }),
  );
  await b.start();
  await eventually(() => p.role === 'active' && b.role === 'passive', { what: 'pair settled' });
  return { p, b, link, servers: [p, b] };
}

async function pairClient(servers: CloneServer[]): Promise<CloneClient> {
  const c = track(new CloneClient({ servers: servers.map((s) => ({ ...s.endpoints })), serverTtlMs: 1000 }));
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
