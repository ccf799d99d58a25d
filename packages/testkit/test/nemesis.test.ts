/**
 * The nemesis: a seeded schedule is the same for the same seed; playing it records each fault's
 * start and stop in the history and heals every fault at the end, also when aborted or when a
 * fault fails; the fault builders break and heal real proxies and processes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  combineFaults,
  Daemon,
  faultWindows,
  History,
  killFault,
  lastHeal,
  nemesisSchedule,
  partitionFault,
  pauseFault,
  runNemesis,
  seededRandom,
  startTcpProxy,
  useDisposables,
  type Fault,
} from '../src/index.js';

const { track } = useDisposables();
const dir = mkdtempSync(join(tmpdir(), 'nemesis-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fault that only logs what was done to it. */
function fakeFault(name: string, log: string[], options: { failStart?: boolean } = {}): Fault {
  return {
    name,
    start: () => {
      log.push(`start ${name}`);
      return options.failStart === true ? Promise.reject(new Error('cannot start')) : Promise.resolve();
    },
    stop: () => {
      log.push(`stop ${name}`);
      return Promise.resolve();
    },
  };
}

describe('nemesisSchedule', () => {
  const faults = ['a', 'b', 'c'].map((n) => fakeFault(n, []));

  it('is the same for the same seed, different for another, and fits in the run', () => {
    const options = { totalMs: 60_000, faultMs: [500, 4000], gapMs: [200, 2000] } as const;
    const one = nemesisSchedule(seededRandom(1), faults, options);
    expect(nemesisSchedule(seededRandom(1), faults, options)).toEqual(one);
    expect(nemesisSchedule(seededRandom(2), faults, options)).not.toEqual(one);
    expect(one.length).toBeGreaterThan(5);
    let end = 0;
    for (const s of one) {
      expect(s.atMs - end).toBeGreaterThanOrEqual(200);
      expect(s.forMs).toBeGreaterThanOrEqual(500);
      expect(s.forMs).toBeLessThanOrEqual(4000);
      end = s.atMs + s.forMs;
    }
    expect(end).toBeLessThanOrEqual(60_000);
    expect(new Set(one.map((s) => s.fault))).toEqual(new Set(['a', 'b', 'c']));
  });

  it("starts with the faults named first and honours a fault's own duration", () => {
    const long = { ...fakeFault('long', []), durationMs: [7000, 8000] as const };
    const schedule = nemesisSchedule(seededRandom(3), [...faults, long], { totalMs: 30_000, first: ['long', 'b'] });
    expect(schedule.slice(0, 2).map((s) => s.fault)).toEqual(['long', 'b']);
    expect(schedule[0]?.forMs).toBeGreaterThanOrEqual(7000);
    expect(() => nemesisSchedule(seededRandom(3), [long], { totalMs: 5000, first: ['long'] })).toThrow(/does not fit/);
  });
});

describe('runNemesis', () => {
  it('records each start and stop in the history, in order, and heals at the end', async () => {
    const log: string[] = [];
    const faults = [fakeFault('x', log), fakeFault('y', log)];
    const history = new History({ seed: 5 });
    const schedule = [
      { fault: 'x', atMs: 10, forMs: 30 },
      { fault: 'y', atMs: 60, forMs: 30 },
    ];
    await runNemesis({ history, faults, schedule });
    expect(log.slice(0, 4)).toEqual(['start x', 'stop x', 'start y', 'stop y']);
    const windows = faultWindows(history.ops);
    expect(windows.map((w) => w.fault)).toEqual(['x', 'y']);
    for (const [i, w] of windows.entries()) {
      expect(w.end - w.start).toBeGreaterThanOrEqual(25);
      expect(w.start).toBeGreaterThanOrEqual(schedule[i]?.atMs ?? 0);
    }
    expect(lastHeal(history.ops)).toBe(windows[1]?.end);
    expect(history.ops.every((op) => op.process === 'nemesis')).toBe(true);
    expect(history.ops.map((op) => `${op.f}:${op.type}`)).toEqual([
      'start:invoke',
      'start:ok',
      'stop:invoke',
      'stop:ok',
      'start:invoke',
      'start:ok',
      'stop:invoke',
      'stop:ok',
    ]);
  });

  it('heals the fault under way when aborted', async () => {
    const log: string[] = [];
    const history = new History();
    const controller = new AbortController();
    const run = runNemesis({
      history,
      faults: [fakeFault('x', log)],
      schedule: [{ fault: 'x', atMs: 0, forMs: 60_000 }],
      signal: controller.signal,
    });
    await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    await run;
    expect(log[0]).toBe('start x');
    expect(log).toContain('stop x');
    expect(faultWindows(history.ops)[0]?.end).toBeLessThan(10_000);
  });

  it('records a fault that fails to start, heals it, and rethrows', async () => {
    const log: string[] = [];
    const history = new History();
    await expect(
      runNemesis({
        history,
        faults: [fakeFault('bad', log, { failStart: true })],
        schedule: [{ fault: 'bad', atMs: 0, forMs: 10 }],
      }),
    ).rejects.toThrow(/cannot start/);
    expect(history.ops.find((op) => op.f === 'start' && op.type === 'fail')).toBeDefined();
    expect(log).toContain('stop bad');
  });
});

describe('fault builders', () => {
  it('partitionFault black-holes every proxy (one way if asked) and forwards them on heal', async () => {
    const a = track(await startTcpProxy({ target: 'tcp://127.0.0.1:9' }));
    const b = track(await startTcpProxy({ target: 'tcp://127.0.0.1:9' }));
    const fault = partitionFault('cut', [a, b], { direction: 'down' });
    await fault.start();
    expect([a.mode, b.mode, a.direction]).toEqual(['blackhole', 'blackhole', 'down']);
    await fault.stop();
    expect([a.mode, b.mode]).toEqual(['forward', 'forward']);
  });

  it('pauseFault stops a process and resumes it; killFault kills it and restarts it; combined heals both', async () => {
    const script = join(dir, 'ticker.mjs');
    writeFileSync(
      script,
      `console.log(JSON.stringify({ msg: 'ready', pid: process.pid }));
       setInterval(() => console.log(JSON.stringify({ msg: 'tick' })), 20);`,
    );
    const daemon = track(await Daemon.start({ bin: script }));
    const ticks = () => daemon.logs.filter((l) => l.msg === 'tick').length;
    const pause = pauseFault('pause', daemon);
    const kill = killFault('kill', daemon);

    await daemon.waitForLog((l) => l.msg === 'tick');
    await pause.start();
    await new Promise((r) => setTimeout(r, 100)); // let what was written before the stop arrive
    const frozen = ticks();
    await new Promise((r) => setTimeout(r, 300));
    expect(ticks()).toBe(frozen);
    await pause.stop();
    await daemon.waitForLog((l) => l.msg === 'tick');

    const firstPid = daemon.pid;
    const both = combineFaults('pause+kill', [pause, kill]);
    await both.start();
    expect(daemon.running).toBe(false);
    await both.stop();
    expect(daemon.running).toBe(true);
    expect(daemon.pid).not.toBe(firstPid);
    await daemon.waitForLog((l) => l.msg === 'tick');
  });
});
