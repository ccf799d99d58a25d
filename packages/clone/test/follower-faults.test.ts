/**
 * The replica loop against raw 12/CHP peers and real servers: the snapshot request goes out at once
 * (a passive server publishes nothing), resync storms back off, a subtree follower ignores keys
 * outside its subtrees that begin with HUGZ, and a loop that dies says so.
 */
import { eventually, ipcEndpoint, useDisposables } from '@zpatterns/testkit';
import * as zmq from 'zeromq';
import { describe, expect, it, vi } from 'vitest';
import { CloneClient } from '../src/client.js';
import { ReplicaError } from '../src/errors.js';
import { decodeIcanhaz, encodeHugz, encodeKthxbai } from '../src/kvmsg.js';
import { CloneServer } from '../src/server.js';

vi.setConfig({ testTimeout: 60_000 });

const { track, defer } = useDisposables();

/**
 * A raw server: a ROUTER that answers every ICANHAZ? with an empty snapshot ending at `sequence`,
 * a PUB that publishes HUGZ carrying `hugz` every `hugzMs` (never, when undefined), a SUB collector.
 */
async function rawServer(options: { sequence: bigint; hugz?: bigint; hugzMs?: number }) {
  const router = track(new zmq.Router({ linger: 0 }));
  const pub = track(new zmq.Publisher({ linger: 0 }));
  const collector = track(new zmq.Subscriber({ linger: 0 }));
  collector.subscribe();
  const address = {
    snapshot: ipcEndpoint('raw-snap'),
    publisher: ipcEndpoint('raw-pub'),
    collector: ipcEndpoint('raw-col'),
  };
  await router.bind(address.snapshot);
  await pub.bind(address.publisher);
  await collector.bind(address.collector);
  void (async () => {
    for await (const _ of collector) void _; // a SUB hands out its subscription only while read
  })().catch(() => undefined);
  const requests: number[] = [];
  void (async () => {
    for await (const [identity, ...rest] of router) {
      decodeIcanhaz(rest);
      requests.push(Date.now());
      await router.send([identity as Buffer, ...encodeKthxbai(options.sequence, '')]);
    }
  })().catch(() => undefined);
  if (options.hugz !== undefined) {
    const hugz = options.hugz;
    const timer = setInterval(() => void pub.send(encodeHugz(hugz)).catch(() => undefined), options.hugzMs ?? 20);
    defer(() => clearInterval(timer));
  }
  return { address, requests };
}

describe('snapshot request timing', () => {
  it('asks for the snapshot at once, without waiting for a first message (a passive publishes nothing)', async () => {
    const silent = await rawServer({ sequence: 7n }); // answers snapshots, publishes nothing
    const ttl = 20_000;
    const c = track(new CloneClient({ servers: [silent.address], peerTtlMs: ttl }));
    let timer: NodeJS.Timeout | undefined;
    const tooLate = new Promise<'waited'>((resolve) => (timer = setTimeout(() => resolve('waited'), ttl / 2)));
    const outcome = await Promise.race([c.start().then(() => 'started' as const), tooLate]);
    clearTimeout(timer);
    expect(outcome).toBe('started');
    expect(c.sequence).toBe(7n);
  });

  it('a new client whose first server is dead reaches the second after one peerTtlMs, not two', async () => {
    const live = track(new CloneServer({ heartbeatIntervalMs: 50 }));
    await live.start();
    const dead = {
      snapshot: ipcEndpoint('dead-snap'),
      publisher: ipcEndpoint('dead-pub'),
      collector: ipcEndpoint('dead-col'),
    };
    const ttl = 3000;
    const c = track(new CloneClient({ servers: [dead, { ...live.endpoints }], peerTtlMs: ttl }));
    const started = Date.now();
    await c.start();
    const took = Date.now() - started;
    expect(c.currentServer).toBe(1);
    expect(c.stats.snapshotTimeouts).toBe(1);
    // one peerTtlMs for the dead server, then the live one answers (the old loop took two)
    expect(took).toBeLessThan(2 * ttl);
  });
});

describe('resync', () => {
  it('backs off when every snapshot is followed by a gap at once (no resync storm)', async () => {
    // KTHXBAI says 5, every HUGZ says 10: each snapshot is out of date on arrival
    const behind = await rawServer({ sequence: 5n, hugz: 10n, hugzMs: 10 });
    const c = track(new CloneClient({ servers: [behind.address], peerTtlMs: 5000 }));
    await c.start();
    const from = behind.requests.length;
    await new Promise((r) => setTimeout(r, 2000));
    // 100, 200, 400, 800 ms apart: at most a handful in 2 s (one per HUGZ, about 200, without backoff)
    expect(behind.requests.length - from).toBeLessThanOrEqual(8);
    expect(c.stats.gaps).toBeGreaterThanOrEqual(2);
  });
});

describe('subtree followers', () => {
  it('ignore keys outside their subtrees that begin with HUGZ', async () => {
    const s = track(new CloneServer({ heartbeatIntervalMs: 50 }));
    await s.start();
    const sub = track(new CloneClient({ servers: [{ ...s.endpoints }], subtrees: ['/a/'] }));
    const writer = track(new CloneClient({ servers: [{ ...s.endpoints }] }));
    await Promise.all([sub.start(), writer.start()]);
    await writer.commit('HUGZ/not-a-heartbeat', 'x');
    await writer.commit('/a/last', 'y');
    await eventually(() => sub.get('/a/last') !== undefined, { what: 'subtree update' });
    expect(sub.get('HUGZ/not-a-heartbeat')).toBeUndefined();
    expect(sub.entries()).toEqual([['/a/last', Buffer.from('y')]]);
  });
});

describe('a replica loop that fails', () => {
  it('rejects start() with ReplicaError and closed() reports it', async () => {
    const s = track(new CloneServer({ heartbeatIntervalMs: 50 }));
    await s.start();
    const c = track(new CloneClient({ servers: [{ ...s.endpoints, publisher: 'bogus://nowhere' }] }));
    await expect(c.start()).rejects.toBeInstanceOf(ReplicaError);
    expect(await c.closed()).toBeInstanceOf(ReplicaError);
  });

  it("a passive server whose replica loop fails reports it in health (clonesrv's /healthz)", async () => {
    const [pState, bState] = [ipcEndpoint('p-state'), ipcEndpoint('b-state')];
    const p = track(
      new CloneServer({
        heartbeatIntervalMs: 50,
        pair: {
          role: 'primary',
          stateBind: pState,
          stateConnect: bState,
          heartbeatIntervalMs: 100,
          peer: { snapshot: ipcEndpoint('x'), publisher: ipcEndpoint('y') },
        },
      }),
    );
    const b = track(
      new CloneServer({
        heartbeatIntervalMs: 50,
        pair: {
          role: 'backup',
          stateBind: bState,
          stateConnect: pState,
          heartbeatIntervalMs: 100,
          peer: { snapshot: ipcEndpoint('z'), publisher: 'bogus://nowhere' },
        },
      }),
    );
    await Promise.all([p.start(), b.start()]);
    await eventually(() => b.role === 'passive', { what: 'backup passive' });
    await eventually(() => !b.health.ok, { what: 'backup unhealthy' });
    expect(b.health).toMatchObject({ ok: false, reason: expect.stringMatching(/^replica: /) as unknown });
    expect(p.health.ok).toBe(true);
  });
});
