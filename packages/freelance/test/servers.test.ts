/** The client's server table: liveness and choice rules, on a manual clock. */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '@zpatterns/core';
import { ServerTable, type FreelanceStrategy, type ServerEntry } from '../src/servers.js';

type Change = [string, 'alive' | 'dead', number];

function table(
  clock: ManualClock,
  n = 3,
  strategy: FreelanceStrategy = 'priority',
): { t: ServerTable; changes: Change[]; s: ServerEntry[] } {
  const changes: Change[] = [];
  const t = new ServerTable({
    servers: Array.from({ length: n }, (_, i) => `tcp://s${i + 1}:1`),
    strategy,
    heartbeatIntervalMs: 2000,
    peerTtlMs: 6000,
    connectPingMs: 100,
    clock,
    onChange: (entry, state, silentMs) => changes.push([entry.endpoint, state, silentMs]),
  });
  return { t, changes, s: [...t.entries] };
}

const at = (s: ServerEntry[], i: number): ServerEntry => s[i] as ServerEntry;

describe('ServerTable', () => {
  it('pings new servers at once, then every connectPingMs until they answer, then every heartbeatIntervalMs', () => {
    const clock = new ManualClock(1000);
    const { t, s } = table(clock, 2);
    expect(t.duePings().map((e) => e.endpoint)).toEqual(['tcp://s1:1', 'tcp://s2:1']);
    clock.advance(99);
    expect(t.duePings()).toEqual([]);
    clock.advance(1);
    expect(t.duePings()).toHaveLength(2);
    expect(t.seen(at(s, 0))).toBe(true);
    expect(t.seen(at(s, 0))).toBe(false);
    clock.advance(200);
    expect(t.duePings().map((e) => e.endpoint)).toEqual(['tcp://s2:1']);
    clock.advance(1799); // 3099: s1 was heard from at 1100
    expect(t.duePings().map((e) => e.endpoint)).not.toContain('tcp://s1:1');
    clock.advance(1);
    expect(t.duePings().map((e) => e.endpoint)).toContain('tcp://s1:1');
  });

  it('a live server silent for peerTtlMs dies on the clock (no tick needed); any message brings it back', () => {
    const clock = new ManualClock(0);
    const { t, s, changes } = table(clock, 1);
    const s1 = at(s, 0);
    expect(t.state(s1)).toBe('connecting');
    t.seen(s1);
    expect(changes).toEqual([['tcp://s1:1', 'alive', 0]]);
    clock.advance(5999);
    expect(t.state(s1)).toBe('alive');
    clock.advance(1);
    expect(changes).toEqual([
      ['tcp://s1:1', 'alive', 0],
      ['tcp://s1:1', 'dead', 6000],
    ]);
    expect(t.state(s1)).toBe('dead');
    expect(t.pick()).toBe(undefined);
    // A dead server is pinged on the short period again.
    expect(t.duePings()).toEqual([s1]);
    clock.advance(1000);
    expect(t.seen(s1)).toBe(true);
    expect(changes.at(-1)).toEqual(['tcp://s1:1', 'alive', 0]);
    expect(t.pick()).toBe(s1);
    expect(t.lastSeen(s1)).toBe(7000);
  });

  it('an unreachable live server dies at once; one not alive yet stays connecting', () => {
    const clock = new ManualClock(0);
    const { t, s, changes } = table(clock, 2);
    expect(t.lost(at(s, 1))).toBe(false);
    expect(t.state(at(s, 1))).toBe('connecting');
    t.seen(at(s, 0));
    clock.advance(250);
    expect(t.lost(at(s, 0))).toBe(true);
    expect(t.lost(at(s, 0))).toBe(false);
    expect(changes).toEqual([
      ['tcp://s1:1', 'alive', 0],
      ['tcp://s1:1', 'dead', 250],
    ]);
    // No second death when its TTL would have run out.
    clock.advance(10_000);
    expect(changes).toHaveLength(2);
  });

  it('priority picks the first live server, preferring ones not tried yet', () => {
    const clock = new ManualClock(0);
    const { t, s } = table(clock);
    const [s1, s2, s3] = [at(s, 0), at(s, 1), at(s, 2)];
    expect(t.pick()).toBe(undefined);
    t.seen(s3);
    t.seen(s2);
    expect(t.pick()).toBe(s2);
    t.seen(s1);
    expect(t.pick()).toBe(s1);
    expect(t.pick()).toBe(s1);
    expect(t.pick(new Set([s1.endpoint]))).toBe(s2);
    expect(t.pick(new Set([s1.endpoint, s2.endpoint, s3.endpoint]))).toBe(s1);
    t.lost(s1);
    expect(t.pick()).toBe(s2);
    expect(t.alive()).toEqual([s2, s3]);
  });

  it('round-robin turns over the live servers and skips dead ones', () => {
    const clock = new ManualClock(0);
    const { t, s } = table(clock, 3, 'round-robin');
    for (const e of s) t.seen(e);
    const picks = Array.from({ length: 6 }, () => t.pick()?.endpoint);
    expect(picks).toEqual(['tcp://s1:1', 'tcp://s2:1', 'tcp://s3:1', 'tcp://s1:1', 'tcp://s2:1', 'tcp://s3:1']);
    t.lost(at(s, 1));
    expect(Array.from({ length: 4 }, () => t.pick()?.endpoint)).toEqual([
      'tcp://s1:1',
      'tcp://s3:1',
      'tcp://s1:1',
      'tcp://s3:1',
    ]);
    expect(t.pick(new Set(['tcp://s1:1']))?.endpoint).toBe('tcp://s3:1');
  });

  it('looks servers up by routing id and drops duplicate endpoints', () => {
    const clock = new ManualClock(0);
    const t = new ServerTable({
      servers: ['tcp://s1:1', 'tcp://s1:1'],
      strategy: 'priority',
      heartbeatIntervalMs: 2000,
      peerTtlMs: 6000,
      connectPingMs: 100,
      clock,
    });
    expect(t.entries).toHaveLength(1);
    expect(t.lookup(Buffer.from('tcp://s1:1'))?.endpoint).toBe('tcp://s1:1');
    expect(t.lookup(Buffer.from('tcp://nope:1'))).toBe(undefined);
  });

  it('stop() ends the expiry timer: no change after it', () => {
    const clock = new ManualClock(0);
    const { t, s, changes } = table(clock, 1);
    t.seen(at(s, 0));
    t.stop();
    clock.advance(60_000);
    expect(changes).toEqual([['tcp://s1:1', 'alive', 0]]);
  });
});
