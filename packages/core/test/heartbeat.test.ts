import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../src/errors.js';
import { ManualClock } from '../src/clock.js';
import { Heartbeat } from '../src/heartbeat.js';

function harness(intervalMs = 1000, liveness = 3) {
  const clock = new ManualClock(10_000);
  const events: string[] = [];
  const hb = new Heartbeat(
    {
      beat: () => events.push(`beat@${clock.now()}`),
      expired: (silentMs) => events.push(`expired@${clock.now()} silent=${silentMs}`),
    },
    { intervalMs, liveness, clock },
  );
  return { clock, events, hb };
}

describe('Heartbeat', () => {
  it('beats every interval and expires after liveness x interval of silence', () => {
    const { clock, events, hb } = harness();
    hb.start();
    clock.advance(2999);
    expect(events).toEqual(['beat@11000', 'beat@12000']);
    clock.advance(1);
    expect(events).toEqual(['beat@11000', 'beat@12000', 'expired@13000 silent=3000']);
    expect(hb.running).toBe(false);
    clock.advance(10_000);
    expect(events).toHaveLength(3);
  });

  it('any inbound traffic resets liveness', () => {
    const { clock, events, hb } = harness();
    hb.start();
    clock.advance(2500);
    hb.touch();
    clock.advance(2900);
    expect(events.some((e) => e.startsWith('expired'))).toBe(false);
    clock.advance(100);
    expect(events.at(-1)).toBe('expired@15500 silent=3000');
    expect(hb.expiresAt).toBe(15_500);
  });

  it('stop() cancels the timer and a stop from inside beat() sticks', () => {
    const clock = new ManualClock();
    let beats = 0;
    const hb: Heartbeat = new Heartbeat(
      {
        beat: () => {
          beats++;
          hb.stop();
        },
        expired: () => expect.unreachable('stopped heartbeat expired'),
      },
      { intervalMs: 100, liveness: 2, clock },
    );
    hb.start();
    clock.advance(100);
    expect(clock.pending).toBe(0); // nothing left armed: a stopped heartbeat never holds a process open
    clock.advance(900);
    expect(beats).toBe(1);
  });

  it('restart from inside expired() runs a fresh cycle', () => {
    const clock = new ManualClock();
    let expiries = 0;
    const hb: Heartbeat = new Heartbeat(
      { beat: () => undefined, expired: () => (++expiries < 3 ? hb.start() : undefined) },
      { intervalMs: 100, liveness: 3, clock },
    );
    hb.start();
    clock.advance(10_000);
    expect(expiries).toBe(3);
    expect(clock.now()).toBe(10_000);
  });

  it('rejects nonsense options, naming them, and takes the smallest sensible ones', () => {
    const port = { beat: () => undefined, expired: () => undefined };
    expect(() => new Heartbeat(port, { intervalMs: 0 })).toThrow(InvalidArgumentError);
    expect(() => new Heartbeat(port, { intervalMs: 0 })).toThrow(/intervalMs must be > 0/);
    expect(() => new Heartbeat(port, { liveness: 0 })).toThrow(InvalidArgumentError);
    expect(() => new Heartbeat(port, { liveness: 0.99 })).toThrow(/liveness must be >= 1/);
    expect(() => new Heartbeat(port, { intervalMs: 0.5, liveness: 1 })).not.toThrow();
  });

  it('defaults: a beat every second, expiry after 3 s of silence', () => {
    const clock = new ManualClock(0);
    const events: string[] = [];
    const hb = new Heartbeat(
      { beat: () => events.push(`beat@${clock.now()}`), expired: (ms) => events.push(`expired@${clock.now()}/${ms}`) },
      { clock },
    );
    hb.start();
    clock.advance(3000);
    expect(events).toEqual(['beat@1000', 'beat@2000', 'expired@3000/3000']);
  });

  it('does nothing before start() and after stop(): no timer, no beat, no expiry', () => {
    const { clock, events, hb } = harness();
    hb.touch();
    expect(clock.pending).toBe(0);
    expect(hb.running).toBe(false);
    hb.start();
    expect(clock.pending).toBe(2); // the beat and the expiry
    hb.stop();
    expect(clock.pending).toBe(0);
    hb.touch();
    expect(clock.pending).toBe(0);
    clock.advance(10_000);
    expect(events).toEqual([]);
  });

  it('an expiry due at the moment of a beat wins: no beat to a peer already dead', () => {
    const { clock, events, hb } = harness(1000, 1);
    hb.start();
    clock.advance(1000);
    expect(events).toEqual(['expired@11000 silent=1000']);
  });

  it('a beat that falls due at the moment of expiry is not sent (the beat timer fires first)', () => {
    // ttl 1500: heard from at 10500, dead at 12000, when the second beat is also due; the beat
    // timer was armed before the expiry timer re-armed for 12000, so it fires first.
    const { clock, events, hb } = harness(1000, 1.5);
    hb.start();
    clock.advance(500);
    hb.touch();
    clock.advance(1500);
    expect(events).toEqual(['beat@11000', 'expired@12000 silent=1500']);
  });

  it('a restart from inside beat() runs one cycle, not two', () => {
    const clock = new ManualClock(0);
    const beats: number[] = [];
    let restarted = false;
    const hb = new Heartbeat(
      {
        beat: () => {
          beats.push(clock.now());
          if (!restarted) {
            restarted = true;
            hb.start();
          }
        },
        expired: () => undefined,
      },
      { intervalMs: 100, liveness: 100, clock },
    );
    hb.start();
    clock.advance(100);
    expect(clock.pending).toBe(2);
    clock.advance(300);
    expect(beats).toEqual([100, 200, 300, 400]);
    hb.stop();
  });
});
