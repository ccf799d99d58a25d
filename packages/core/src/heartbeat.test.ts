import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from './errors.js';
import { ManualClock } from './clock.js';
import { Heartbeat } from './heartbeat.js';

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

  it('rejects nonsense options', () => {
    const port = { beat: () => undefined, expired: () => undefined };
    expect(() => new Heartbeat(port, { intervalMs: 0 })).toThrow(InvalidArgumentError);
    expect(() => new Heartbeat(port, { liveness: 0 })).toThrow(InvalidArgumentError);
  });
});
