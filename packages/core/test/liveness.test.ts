import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { PeerLiveness } from '../src/liveness.js';
import { ServerRotation } from '../src/rotation.js';

function harness(ttlMs = 3000) {
  const clock = new ManualClock(10_000);
  const events: string[] = [];
  const liveness = new PeerLiveness<string>({
    ttlMs,
    clock,
    onChange: (key, state, silentMs) => events.push(`${key} ${state}@${clock.now()} silent=${silentMs}`),
  });
  return { clock, events, liveness };
}

describe('PeerLiveness', () => {
  it('a peer is alive from its first sign of life and dead after ttlMs of silence', () => {
    const { clock, events, liveness } = harness();
    liveness.add('a');
    expect(liveness.state('a')).toBe('unknown');
    clock.advance(60_000);
    expect(events).toEqual([]); // never heard from: no expiry runs
    expect(liveness.seen('a')).toBe(true);
    expect(liveness.seen('a')).toBe(false);
    clock.advance(2999);
    expect(liveness.isAlive('a')).toBe(true);
    clock.advance(1);
    expect(events).toEqual(['a alive@70000 silent=0', 'a dead@73000 silent=3000']);
    expect(liveness.state('a')).toBe('dead');
  });

  it('any sign of life pushes the expiry back, and a dead peer comes back when heard from', () => {
    const { clock, events, liveness } = harness();
    liveness.seen('a');
    clock.advance(2000);
    liveness.seen('a');
    clock.advance(2999);
    expect(events).toHaveLength(1);
    clock.advance(1);
    expect(events.at(-1)).toBe('a dead@15000 silent=3000');
    expect(liveness.seen('a')).toBe(true);
    expect(events.at(-1)).toBe('a alive@15000 silent=0');
    expect(liveness.expiresAt('a')).toBe(18_000);
  });

  it('expires many peers in order with one timer, never missing one behind a live peer', () => {
    const { clock, events, liveness } = harness();
    liveness.seen('a');
    clock.advance(1000);
    liveness.seen('b');
    clock.advance(1000);
    liveness.seen('c');
    liveness.seen('a'); // a is now the most recent; b expires first
    clock.advance(1999);
    expect(events.filter((e) => e.includes('dead'))).toEqual([]);
    clock.advance(1);
    expect(events.filter((e) => e.includes('dead'))).toEqual(['b dead@14000 silent=3000']);
    clock.advance(1000);
    expect(events.filter((e) => e.includes('dead'))).toEqual([
      'b dead@14000 silent=3000',
      'c dead@15000 silent=3000',
      'a dead@15000 silent=3000',
    ]);
    expect(liveness.alive()).toEqual([]);
  });

  it('expect() starts the clock on a peer not yet heard from', () => {
    const { clock, events, liveness } = harness();
    liveness.expect('peer');
    expect(liveness.expiresAt('peer')).toBe(13_000);
    clock.advance(3000);
    expect(events).toEqual(['peer dead@13000 silent=3000']);
  });

  it('lost() declares a peer dead at once and stops its expiry; delete() forgets it silently', () => {
    const { clock, events, liveness } = harness();
    liveness.seen('a');
    liveness.seen('b');
    clock.advance(500);
    expect(liveness.lost('a')).toBe(true);
    expect(liveness.lost('a')).toBe(false);
    expect(liveness.delete('b')).toBe(true);
    clock.advance(10_000);
    expect(events).toEqual(['a alive@10000 silent=0', 'b alive@10000 silent=0', 'a dead@10500 silent=500']);
    expect(liveness.state('b')).toBe('unknown');
  });

  it('leaves no timer armed once no peer is timing, so a process can exit', () => {
    const { clock, liveness } = harness();
    liveness.seen('a');
    liveness.seen('b');
    expect(clock.pending).toBe(1);
    liveness.delete('a');
    liveness.lost('b');
    expect(clock.pending).toBe(0);
  });

  it('stop() ends every callback', () => {
    const { clock, events, liveness } = harness();
    liveness.seen('a');
    liveness.stop();
    clock.advance(10_000);
    expect(events).toHaveLength(1);
  });

  it('rejects a ttl that is not positive', () => {
    expect(() => new PeerLiveness({ ttlMs: 0 })).toThrow(/ttlMs/);
  });
});

describe('PeerLiveness: the edges', () => {
  it('takes any positive ttl and refuses 0 and NaN, naming ttlMs', () => {
    expect(new PeerLiveness({ ttlMs: 1 }).ttlMs).toBe(1);
    expect(() => new PeerLiveness({ ttlMs: 0 })).toThrow(/^PeerLiveness: ttlMs must be > 0$/);
    expect(() => new PeerLiveness({ ttlMs: Number.NaN })).toThrow(/^PeerLiveness: ttlMs/);
  });

  it('add() lists a peer as unknown, with no timer and no event, and keeps a known peer as it is', () => {
    const { clock, events, liveness } = harness();
    liveness.add('a');
    expect(liveness.size).toBe(1);
    expect([...liveness.entries()]).toEqual([['a', 'unknown']]);
    expect(clock.pending).toBe(0);
    liveness.seen('b');
    liveness.add('b');
    expect(liveness.state('b')).toBe('alive');
    expect([...liveness.entries()]).toEqual([
      ['a', 'unknown'],
      ['b', 'alive'],
    ]);
    expect(liveness.alive()).toEqual(['b']);
    expect(events).toEqual(['b alive@10000 silent=0']);
  });

  it('answers for a peer it never heard of: unknown, not alive, never seen, and lost() is a no-op', () => {
    const { events, liveness } = harness();
    expect(liveness.state('x')).toBe('unknown');
    expect(liveness.isAlive('x')).toBe(false);
    expect(liveness.lastSeen('x')).toBe(Number.NEGATIVE_INFINITY);
    expect(liveness.expiresAt('x')).toBe(Number.NEGATIVE_INFINITY);
    expect(liveness.lost('x')).toBe(false);
    expect(liveness.size).toBe(0);
    expect(events).toEqual([]);
  });

  it('expect() on a new peer keeps it unknown; on a live peer it does not push its expiry back', () => {
    const { clock, liveness } = harness(3000);
    liveness.expect('new');
    expect(liveness.state('new')).toBe('unknown');
    expect([...liveness.entries()]).toEqual([['new', 'unknown']]);
    liveness.seen('a');
    clock.advance(1000);
    liveness.expect('a');
    expect(liveness.expiresAt('a')).toBe(13_000);
    expect(liveness.lastSeen('a')).toBe(10_000);
  });

  it('a peer lost before it was ever seen was silent for 0 ms', () => {
    const { events, liveness } = harness();
    liveness.add('a');
    expect(liveness.lost('a')).toBe(false);
    expect(events).toEqual(['a dead@10000 silent=0']);
  });

  it('a stop() from inside onChange ends the callbacks of the peers expiring in the same tick', () => {
    const clock = new ManualClock(0);
    const dead: string[] = [];
    const liveness: PeerLiveness<string> = new PeerLiveness<string>({
      ttlMs: 100,
      clock,
      onChange: (key, state) => {
        if (state !== 'dead') return;
        dead.push(key);
        liveness.stop();
      },
    });
    liveness.seen('a');
    liveness.seen('b');
    clock.advance(100);
    expect(dead).toEqual(['a']);
  });

  it('a sign of life does no timer work while a timer is armed, even one at the same moment', () => {
    const clock = new ManualClock(0);
    let armed = 0;
    const counting = {
      now: () => clock.now(),
      setTimeout: (fn: () => void, ms: number) => {
        armed++;
        return clock.setTimeout(fn, ms);
      },
      clearTimeout: (handle: Parameters<ManualClock['clearTimeout']>[0]) => clock.clearTimeout(handle),
    };
    const liveness = new PeerLiveness<string>({ ttlMs: 100, clock: counting });
    liveness.seen('a');
    liveness.seen('a'); // same millisecond: same expiry as the timer's
    liveness.seen('b');
    liveness.seen('c');
    // Losing or forgetting a peer behind the head leaves the head's expiry, which the timer is
    // armed for: nothing to re-arm.
    liveness.lost('c');
    liveness.delete('b');
    liveness.seen('b');
    for (let t = 1; t <= 50; t++) {
      clock.advance(1);
      liveness.seen('a');
      liveness.seen('b');
    }
    expect(armed).toBe(1);
    clock.advance(50); // the timer fires at 100, finds a and b alive, re-arms once
    expect(armed).toBe(2);
    expect(liveness.alive()).toEqual(['a', 'b']);
    expect(liveness.state('c')).toBe('dead');
  });

  it('works without onChange', () => {
    const clock = new ManualClock(0);
    const liveness = new PeerLiveness<string>({ ttlMs: 100, clock });
    expect(liveness.seen('a')).toBe(true);
    expect(liveness.seen('b')).toBe(true);
    expect(liveness.lost('a')).toBe(true);
    clock.advance(100);
    expect(liveness.state('b')).toBe('dead');
  });

  it('arms no timer once stopped, whatever it hears', () => {
    const { clock, events, liveness } = harness();
    liveness.seen('a');
    expect(clock.pending).toBe(1);
    liveness.stop();
    expect(clock.pending).toBe(0);
    liveness.seen('b');
    liveness.expect('c');
    liveness.lost('a');
    expect(clock.pending).toBe(0);
    clock.advance(10_000);
    expect(events.filter((e) => e.includes('dead@')).length).toBeLessThanOrEqual(1); // lost('a') only
    expect(events.some((e) => e.startsWith('b dead'))).toBe(false);
  });
});

describe('ServerRotation', () => {
  it('fails over in list order, wrapping, and counts failovers', () => {
    const rotation = new ServerRotation(['a', 'b', 'c']);
    expect(rotation.current).toBe('a');
    expect([rotation.failover(), rotation.failover(), rotation.failover()]).toEqual(['b', 'c', 'a']);
    expect(rotation.failovers).toBe(3);
    rotation.select('c');
    expect(rotation.index).toBe(2);
  });

  it('priority picks the first usable server, avoiding tried ones while another is usable', () => {
    const rotation = new ServerRotation(['a', 'b', 'c']);
    const alive = new Set(['b', 'c']);
    expect(rotation.pick((s) => alive.has(s))).toBe('b');
    expect(rotation.pick((s) => alive.has(s))).toBe('b');
    expect(rotation.pick((s) => alive.has(s), new Set(['b']))).toBe('c');
    expect(rotation.pick((s) => alive.has(s), new Set(['b', 'c']))).toBe('b');
    expect(rotation.pick(() => false)).toBeUndefined();
    expect(rotation.current).toBe('b');
  });

  it('round-robin starts at the first server and continues after the previous pick', () => {
    const rotation = new ServerRotation(['a', 'b', 'c'], { strategy: 'round-robin' });
    const picks = Array.from({ length: 4 }, () => rotation.pick(() => true));
    expect(picks).toEqual(['a', 'b', 'c', 'a']);
    expect(rotation.pick((s) => s !== 'b')).toBe('c');
  });

  it('rejects an empty list and an unknown server', () => {
    expect(() => new ServerRotation([])).toThrow(/at least one server/);
    expect(() => new ServerRotation(['a']).select('z')).toThrow(/unknown server/);
  });
});
