/**
 * The replica loop's server rules on an injected clock, against raw 12/CHP servers on real
 * sockets: a server is dead after serverTtlMs of silence (any message pushes that back), the loop
 * then moves to the next server in order and wraps, and a snapshot that gets no reply counts as a
 * timeout. Time moves only when the test says so.
 */
import { ManualClock, silentLogger } from '@zpatterns/core';
import { eventually, ipcEndpoint, useDisposables } from '@zpatterns/testkit';
import * as zmq from 'zeromq';
import { describe, expect, it, vi } from 'vitest';
import { Follower, type FollowerEvent } from '../src/follower.js';
import { decodeIcanhaz, encodeHugz, encodeKthxbai } from '../src/kvmsg.js';

vi.setConfig({ testTimeout: 30_000 });

const { track, defer } = useDisposables();
const TTL = 3000;

/** A ROUTER that answers every ICANHAZ? with an empty snapshot at `sequence`, and a PUB. */
async function rawServer(name: string, sequence = 0n) {
  const router = track(new zmq.Router({ linger: 0 }));
  const pub = track(new zmq.Publisher({ linger: 0 }));
  const address = { snapshot: ipcEndpoint(`${name}-snap`), publisher: ipcEndpoint(`${name}-pub`) };
  await router.bind(address.snapshot);
  await pub.bind(address.publisher);
  void (async () => {
    for await (const [identity, ...rest] of router) {
      decodeIcanhaz(rest);
      await router.send([identity as Buffer, ...encodeKthxbai(sequence, '')]);
    }
  })().catch(() => undefined);
  return { address, pub };
}

function follower(sources: { snapshot: string; publisher: string }[], clock: ManualClock) {
  const events: FollowerEvent[] = [];
  let hugz = 0;
  const f = new Follower({
    sources,
    subtrees: [''],
    serverTtlMs: TTL,
    lingerMs: 0,
    clock,
    logger: silentLogger(),
    onSnapshot: () => undefined,
    onUpdate: () => undefined,
    onHugz: () => (hugz += 1),
    onEvent: (event) => events.push(event),
  });
  defer(() => f.close());
  return { f, events, hugz: () => hugz };
}

describe('Follower on a ManualClock', () => {
  it('a server silent for serverTtlMs is dead; the loop fails over in order and wraps', async () => {
    const clock = new ManualClock(1000);
    const [a, b] = [await rawServer('a'), await rawServer('b')];
    const { f, events } = follower([a.address, b.address], clock);
    await f.start();
    expect(events).toEqual([{ type: 'connected', server: 0 }]);
    clock.advance(TTL - 1);
    expect(events).toHaveLength(1);
    clock.advance(1);
    await eventually(() => events.length >= 4, { what: 'failover to b' });
    expect(events.slice(1)).toEqual([
      { type: 'server-dead', server: 0, silentMs: TTL },
      { type: 'failover', from: 0, to: 1 },
      { type: 'connected', server: 1 },
    ]);
    expect(f.current).toBe(1);
    clock.advance(TTL);
    await eventually(() => events.length >= 7, { what: 'failover back to a' });
    expect(events.slice(4)).toEqual([
      { type: 'server-dead', server: 1, silentMs: TTL },
      { type: 'failover', from: 1, to: 0 },
      { type: 'connected', server: 0 },
    ]);
    expect(f.stats).toMatchObject({ failovers: 2, snapshots: 3, snapshotTimeouts: 0 });
  });

  it('any message from the server pushes its death back by serverTtlMs', async () => {
    const clock = new ManualClock(1000);
    const [a, b] = [await rawServer('a2'), await rawServer('b2')];
    const { f, events, hugz } = follower([a.address, b.address], clock);
    await f.start();
    clock.advance(TTL - 1000);
    // a HUGZ (sequence 0: no position) until one is through the subscription
    await eventually(
      async () => {
        await a.pub.send(encodeHugz(0n));
        return hugz() > 0;
      },
      { what: 'a HUGZ heard' },
    );
    clock.advance(TTL - 1);
    expect(events).toEqual([{ type: 'connected', server: 0 }]);
    clock.advance(1);
    await eventually(() => events.some((e) => e.type === 'failover'), { what: 'failover' });
    expect(events[1]).toEqual({ type: 'server-dead', server: 0, silentMs: TTL });
  });

  it('a snapshot request without a reply for serverTtlMs is a timeout: next server', async () => {
    const clock = new ManualClock(1000);
    const dead = { snapshot: ipcEndpoint('dead-snap'), publisher: ipcEndpoint('dead-pub') };
    const live = await rawServer('live', 7n);
    const { f, events } = follower([dead, live.address], clock);
    const started = f.start();
    clock.advance(TTL);
    await started;
    expect(events).toEqual([
      { type: 'server-dead', server: 0, silentMs: TTL },
      { type: 'failover', from: 0, to: 1 },
      { type: 'connected', server: 1 },
    ]);
    expect(f.sequence).toBe(7n);
    expect(f.stats).toMatchObject({ snapshotTimeouts: 1, failovers: 1, snapshots: 1 });
  });

  it('one server: it is declared dead and asked again, without a failover', async () => {
    const clock = new ManualClock(1000);
    const only = await rawServer('only', 3n);
    const { f, events } = follower([only.address], clock);
    await f.start();
    clock.advance(TTL);
    await eventually(() => events.length >= 3, { what: 'reconnected' });
    expect(events).toEqual([
      { type: 'connected', server: 0 },
      { type: 'server-dead', server: 0, silentMs: TTL },
      { type: 'connected', server: 0 },
    ]);
    expect(f.stats.failovers).toBe(0);
  });
});
