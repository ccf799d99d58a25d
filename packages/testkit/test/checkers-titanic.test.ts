import { describe, expect, it } from 'vitest';
import type { Op } from '../src/history.js';
import { checkTitanic } from '../src/checkers/titanic.js';

/** A hand-made history with explicit times: `at(t).invoke(...)` returns the invoke's index. */
function script() {
  const ops: Op[] = [];
  const push = (op: Omit<Op, 'index'>): number => {
    ops.push({ ...op, index: ops.length } as Op);
    return ops.length - 1;
  };
  const complete = (invoke: number, time: number, type: Op['type'], fields: Partial<Op> = {}) => {
    const { index: _i, time: _t, type: _y, ...carried } = ops[invoke] as Op;
    return push({ ...carried, ...fields, type, time, invoke });
  };
  return {
    ops,
    submit(time: number, body: string, uuid: string | undefined, done = time + 5) {
      const i = push({ process: 'client-1', type: 'invoke', f: 'submit', value: body, time });
      if (uuid === undefined) complete(i, done, 'unknown');
      else complete(i, done, 'ok', { key: uuid });
    },
    run(time: number, body: string, reply: string = body, done = time + 10) {
      const i = push({ process: 'worker-1', type: 'invoke', f: 'execute', value: body, time });
      complete(i, done, 'ok', { reply });
    },
    fetch(time: number, uuid: string, status: 'replied' | 'pending' | 'unknown', reply?: string) {
      const i = push({ process: 'client-2', type: 'invoke', f: 'fetch', key: uuid, time });
      complete(i, time + 2, 'ok', { status, ...(reply !== undefined && { reply }) });
    },
    close(time: number, uuid: string) {
      const i = push({ process: 'client-2', type: 'invoke', f: 'close', key: uuid, time });
      complete(i, time + 2, 'ok');
    },
    fault(start: number, end: number, fault = 'kill titanic', kind = 'kill') {
      const s = push({ process: 'nemesis', type: 'invoke', f: 'start', fault, kind, time: start });
      complete(s, start + 1, 'ok');
      const e = push({ process: 'nemesis', type: 'invoke', f: 'stop', fault, kind, time: end - 1 });
      complete(e, end, 'ok');
    },
    /** The ops in time order, renumbered (as a real history is). */
    sorted(): Op[] {
      const order = [...ops].sort((a, b) => a.time - b.time || a.index - b.index);
      const renumber = new Map(order.map((op, i) => [op.index, i]));
      return order.map((op, i) => ({
        ...op,
        index: i,
        ...(typeof op['invoke'] === 'number' && { invoke: renumber.get(op['invoke']) }),
      }));
    },
  };
}

const messages = (ops: readonly Op[], options = {}) => checkTitanic(ops, options).errors.map((e) => e.message);

describe('checkTitanic', () => {
  it('passes a clean run: acknowledged, run once, fetched, closed, and an unknown submit that never ran', () => {
    const h = script();
    h.submit(0, 'a', 'U1');
    h.submit(1, 'b', undefined);
    h.run(10, 'a', 'a#1');
    h.fetch(5, 'U1', 'pending');
    h.fetch(30, 'U1', 'replied', 'a#1');
    h.fetch(40, 'U1', 'replied', 'a#1');
    h.close(50, 'U1');
    h.fetch(60, 'U1', 'unknown');
    const result = checkTitanic(h.ops);
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
    expect(result.stats).toMatchObject({
      acknowledged: 1,
      unknownSubmits: 1,
      answered: 1,
      executions: 1,
      duplicates: 0,
    });
  });

  it('fails when an acknowledged UUID is never answered, or never ran', () => {
    const h = script();
    h.submit(0, 'a', 'U1');
    h.fetch(100, 'U1', 'pending');
    expect(messages(h.ops)).toEqual([
      'acknowledged UUID U1 (a) was never answered',
      'no worker ever ran acknowledged UUID U1 (a)',
    ]);
  });

  it('fails when an acknowledged UUID is forgotten ("unknown" before any close)', () => {
    const h = script();
    h.submit(0, 'a', 'U1');
    h.run(10, 'a');
    h.fetch(30, 'U1', 'unknown');
    h.fetch(40, 'U1', 'replied', 'a');
    expect(messages(h.ops)).toEqual(['acknowledged UUID U1 (a) was lost: a fetch answered "unknown" before any close']);
  });

  it("fails when a UUID is answered with another request's reply", () => {
    const h = script();
    h.submit(0, 'a', 'U1');
    h.submit(0, 'b', 'U2');
    h.run(10, 'a');
    h.run(10, 'b');
    h.fetch(30, 'U1', 'replied', 'b');
    h.fetch(30, 'U2', 'replied', 'b');
    expect(messages(h.ops)).toEqual(['UUID U1 (a) was answered with the reply of another request (b)']);
  });

  it('fails on a reply no worker produced, and on two different stored replies', () => {
    const h = script();
    h.submit(0, 'a', 'U1');
    h.fault(5, 15);
    h.run(10, 'a', 'a#1');
    h.run(20, 'a', 'a#2');
    h.fetch(30, 'U1', 'replied', 'a#1');
    h.fetch(40, 'U1', 'replied', 'a#2');
    h.fetch(50, 'U1', 'replied', 'garbage');
    expect(messages(h.ops)).toEqual([
      'UUID U1 (a) has two stored replies: a#1 then a#2',
      'UUID U1 (a) was answered with a reply no worker produced for it: garbage',
    ]);
  });

  it('fails when a fetched reply goes back to "pending"', () => {
    const h = script();
    h.submit(0, 'a', 'U1');
    h.run(10, 'a');
    h.fetch(30, 'U1', 'replied', 'a');
    h.fetch(40, 'U1', 'pending');
    expect(messages(h.ops)).toEqual(['UUID U1 (a) said "pending" after its reply had been fetched']);
  });

  it('fails when one UUID is acknowledged for two requests, or a worker runs what nobody submitted', () => {
    const h = script();
    h.submit(0, 'a', 'U1');
    h.submit(1, 'b', 'U1');
    h.run(10, 'a');
    h.run(10, 'z');
    h.fetch(30, 'U1', 'replied', 'a');
    expect(messages(h.ops)).toEqual([
      'UUID U1 was acknowledged for two requests',
      'a worker ran z, which no client submitted',
    ]);
  });

  it('allows a second run only when a fault overlapped an earlier run (with the in-flight margin)', () => {
    const inWindow = script();
    inWindow.submit(0, 'a', 'U1');
    inWindow.run(100, 'a', 'a#1', 200);
    inWindow.fault(250, 400); // 50 ms after the run ended: its reply may still be on the way
    inWindow.run(5000, 'a', 'a#2', 5010);
    inWindow.fetch(6000, 'U1', 'replied', 'a#1');
    const ok = checkTitanic(inWindow.sorted(), { inFlightMarginMs: 100 });
    expect(ok.errors).toEqual([]);
    expect(ok.stats).toMatchObject({
      executions: 2,
      duplicates: 1,
      duplicatesInFaultWindows: 1,
      faults: 1,
      'duplicates: kill titanic': 1,
    });

    // The same run with the fault well after the first run: that duplicate has no excuse.
    const late = script();
    late.submit(0, 'a', 'U1');
    late.run(100, 'a', 'a#1', 200);
    late.fault(1000, 1200);
    late.run(5000, 'a', 'a#2', 5010);
    late.fetch(6000, 'U1', 'replied', 'a#1');
    expect(messages(late.sorted(), { inFlightMarginMs: 100 })).toEqual([
      'a ran 2 times with no fault while an earlier run was in flight',
    ]);
    // No fault at all.
    const none = script();
    none.submit(0, 'a', 'U1');
    none.run(100, 'a', 'a#1');
    none.run(200, 'a', 'a#2');
    none.fetch(6000, 'U1', 'replied', 'a#2');
    expect(checkTitanic(none.ops).valid).toBe(false);
    // A fault of a kind not allowed to cause duplicates does not excuse one.
    expect(messages(inWindow.sorted(), { inFlightMarginMs: 100, duplicateKinds: ['partition'] })).toEqual([
      'a ran 2 times with no fault while an earlier run was in flight',
    ]);
  });

  it('with minRepeatGapMs, fails a run again sooner than that after the run before, except after the named faults', () => {
    const h = script();
    h.submit(0, 'a', 'U1');
    h.fault(50, 150, 'kill titanic');
    h.run(100, 'a', 'a#1', 110);
    h.run(300, 'a', 'a#2', 310);
    h.run(2400, 'a', 'a#3', 2410);
    h.fetch(3000, 'U1', 'replied', 'a#1');
    expect(messages(h.sorted(), { inFlightMarginMs: 10, minRepeatGapMs: 1000 })).toEqual([
      'a ran again 200 ms after its previous run (after kill titanic), sooner than 1000 ms',
    ]);
    const result = checkTitanic(h.sorted(), {
      inFlightMarginMs: 10,
      minRepeatGapMs: 1000,
      immediateRepeatFaults: ['kill titanic'],
    });
    expect(result.errors).toEqual([]);
    expect(result.stats).toMatchObject({ duplicates: 2, duplicatesInFaultWindows: 2 });
    // Another fault overlapping the same run does not take the exemption away.
    h.fault(20, 40, 'cut link', 'partition');
    expect(
      checkTitanic(h.sorted(), { inFlightMarginMs: 100, minRepeatGapMs: 1000, immediateRepeatFaults: ['kill titanic'] })
        .errors,
    ).toEqual([]);
  });

  it('counts the duplicates of requests whose submission outcome is unknown too', () => {
    const h = script();
    h.submit(0, 'a', undefined);
    h.fault(50, 150);
    h.run(100, 'a', 'a#1');
    h.run(300, 'a', 'a#2');
    h.run(400, 'a', 'a#3');
    const result = checkTitanic(h.sorted(), { inFlightMarginMs: 10 });
    expect(result.errors).toEqual([]);
    expect(result.stats).toMatchObject({ duplicates: 2, duplicatesInFaultWindows: 2 });
  });
});
