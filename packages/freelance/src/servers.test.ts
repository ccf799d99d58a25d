/** The client's server table: liveness and choice rules, on a manual clock. */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '@zpatterns/core';
import { ServerTable } from './servers.js';

const timings = { pingIntervalMs: 2000, serverTtlMs: 6000, connectPingMs: 100 };
const none = new Set<string>();

function table(clock: ManualClock, n = 3): ServerTable {
  const t = new ServerTable(timings);
  for (let i = 1; i <= n; i++) t.add(`tcp://s${i}:1`, clock.now());
  return t;
}

describe('ServerTable', () => {
  it('pings new servers at once, then every connectPingMs until they answer, then every pingIntervalMs', () => {
    const clock = new ManualClock(1000);
    const t = table(clock, 2);
    expect(t.due(clock.now()).ping.map((e) => e.endpoint)).toEqual(['tcp://s1:1', 'tcp://s2:1']);
    expect(t.due(clock.now() + 99).ping).toEqual([]);
    expect(t.due(clock.now() + 100).ping).toHaveLength(2);
    const [s1] = t.entries;
    if (s1 === undefined) throw new Error('no entry');
    expect(t.seen(s1, 1100)).toBe(true);
    expect(t.seen(s1, 1100)).toBe(false);
    const due = t.due(1300);
    expect(due.ping.map((e) => e.endpoint)).toEqual(['tcp://s2:1']);
    expect(t.due(3099).ping.map((e) => e.endpoint)).not.toContain('tcp://s1:1');
    expect(t.due(3100).ping.map((e) => e.endpoint)).toContain('tcp://s1:1');
  });

  it('a live server silent for serverTtlMs expires; any message brings it back', () => {
    const clock = new ManualClock(0);
    const t = table(clock, 1);
    const [s1] = t.entries;
    if (s1 === undefined) throw new Error('no entry');
    t.seen(s1, 0);
    expect(t.due(5999).expired).toEqual([]);
    expect(t.due(6000).expired).toEqual([s1]);
    expect(t.lost(s1, 6000)).toBe(true);
    expect(t.lost(s1, 6000)).toBe(false);
    expect(s1.state).toBe('dead');
    expect(t.pick('priority', none)).toBe(undefined);
    expect(t.seen(s1, 7000)).toBe(true);
    expect(t.pick('priority', none)).toBe(s1);
  });

  it('priority picks the first live server, preferring ones not tried yet', () => {
    const clock = new ManualClock(0);
    const t = table(clock);
    const [s1, s2, s3] = t.entries;
    if (s1 === undefined || s2 === undefined || s3 === undefined) throw new Error('no entries');
    expect(t.pick('priority', none)).toBe(undefined);
    t.seen(s3, 0);
    t.seen(s2, 0);
    expect(t.pick('priority', none)).toBe(s2);
    t.seen(s1, 0);
    expect(t.pick('priority', none)).toBe(s1);
    expect(t.pick('priority', none)).toBe(s1);
    expect(t.pick('priority', new Set([s1.endpoint]))).toBe(s2);
    expect(t.pick('priority', new Set([s1.endpoint, s2.endpoint, s3.endpoint]))).toBe(s1);
    t.lost(s1, 1);
    expect(t.pick('priority', none)).toBe(s2);
  });

  it('round-robin turns over the live servers and skips dead ones', () => {
    const clock = new ManualClock(0);
    const t = table(clock);
    for (const e of t.entries) t.seen(e, 0);
    const picks = Array.from({ length: 6 }, () => t.pick('round-robin', none)?.endpoint);
    expect(picks).toEqual(['tcp://s1:1', 'tcp://s2:1', 'tcp://s3:1', 'tcp://s1:1', 'tcp://s2:1', 'tcp://s3:1']);
    const s2 = t.entries[1];
    if (s2 === undefined) throw new Error('no entry');
    t.lost(s2, 1);
    expect(Array.from({ length: 4 }, () => t.pick('round-robin', none)?.endpoint)).toEqual([
      'tcp://s1:1',
      'tcp://s3:1',
      'tcp://s1:1',
      'tcp://s3:1',
    ]);
    expect(t.pick('round-robin', new Set(['tcp://s1:1']))?.endpoint).toBe('tcp://s3:1');
  });

  it('looks servers up by routing id and ignores duplicate adds', () => {
    const clock = new ManualClock(0);
    const t = table(clock, 1);
    expect(t.add('tcp://s1:1', 5)).toBe(t.entries[0]);
    expect(t.entries).toHaveLength(1);
    expect(t.lookup(Buffer.from('tcp://s1:1'))?.endpoint).toBe('tcp://s1:1');
    expect(t.lookup(Buffer.from('tcp://nope:1'))).toBe(undefined);
  });
});
