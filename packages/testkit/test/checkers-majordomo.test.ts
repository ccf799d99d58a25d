import { describe, expect, it } from 'vitest';
import type { Op } from '../src/history.js';
import { checkMajordomo } from '../src/checkers/majordomo.js';

/** A hand-made history with explicit times, in time order (callers add ops in that order). */
function script() {
  const ops: Op[] = [];
  const push = (op: Omit<Op, 'index'>): number => {
    ops.push({ ...op, index: ops.length } as Op);
    return ops.length - 1;
  };
  const complete = (invoke: number, time: number, type: Op['type'], fields: Partial<Op> = {}) => {
    const { index: _i, time: _t, type: _y, ...carried } = ops[invoke] as Op;
    push({ ...carried, ...fields, type, time, invoke });
  };
  return {
    ops,
    request(time: number, service: string, body: string, done: number, reply: string | undefined) {
      const i = push({ process: 'client-1', type: 'invoke', f: 'request', service, value: body, time });
      if (reply === undefined) complete(i, done, 'fail');
      else complete(i, done, 'ok', { reply });
    },
    run(time: number, service: string, body: string, reply: string = body) {
      const i = push({ process: 'worker-1', type: 'invoke', f: 'execute', service, value: body, time });
      complete(i, time + 1, 'ok', { reply });
    },
    fault(start: number, end: number) {
      push({ process: 'nemesis', type: 'invoke', f: 'start', fault: 'kill broker', kind: 'kill', time: start });
      push({ process: 'nemesis', type: 'invoke', f: 'stop', fault: 'kill broker', kind: 'kill', time: end });
      push({
        process: 'nemesis',
        type: 'ok',
        f: 'stop',
        fault: 'kill broker',
        kind: 'kill',
        time: end,
        invoke: ops.length - 1,
      });
    },
  };
}

const options = { idempotentServices: ['echo'], healMs: 100 };
const messages = (ops: readonly Op[]) => checkMajordomo(ops, options).errors.map((e) => e.message);

describe('checkMajordomo', () => {
  it('passes answered requests, a duplicate of an idempotent one, and a failure inside a fault', () => {
    const h = script();
    h.run(1, 'echo', 'e1', 'e1!');
    h.run(2, 'echo', 'e1', 'e1!!');
    h.run(3, 'pay', 'p1');
    h.fault(10, 20);
    h.run(25, 'echo', 'e2');
    h.request(0, 'echo', 'e1', 5, 'e1!!');
    h.request(0, 'pay', 'p1', 5, 'p1');
    h.request(0, 'pay', 'p2', 50, undefined); // lost with a dead worker: allowed, at most once
    h.request(8, 'echo', 'e3', 30, undefined); // the fault overlapped it
    h.request(21, 'echo', 'e2', 26, 'e2');
    const result = checkMajordomo(h.ops, options);
    expect(result.errors).toEqual([]);
    expect(result.stats).toMatchObject({ requests: 5, answered: 3, failedInFaults: 1, duplicates: 1, faults: 1 });
  });

  it('fails an idempotent request that was not answered with no fault around it', () => {
    const h = script();
    h.fault(10, 20);
    h.request(200, 'echo', 'e1', 300, undefined);
    h.request(0, 'echo', 'e0', 5, undefined);
    expect(messages(h.ops)).toEqual([
      'e1 to idempotent service echo was not answered, and no fault overlapped it',
      'e0 to idempotent service echo was not answered, and no fault overlapped it',
    ]);
    // Within healMs after the heal the system may still be recovering.
    const recovering = script();
    recovering.fault(10, 20);
    recovering.request(90, 'echo', 'e1', 300, undefined);
    expect(checkMajordomo(recovering.ops, options).valid).toBe(true);
  });

  it('fails a non-idempotent request that reached a worker twice', () => {
    const h = script();
    h.fault(0, 100);
    h.run(1, 'pay', 'p1');
    h.run(2, 'pay', 'p1');
    h.request(0, 'pay', 'p1', 5, 'p1');
    expect(messages(h.ops)).toEqual(['p1 to non-idempotent service pay reached a worker 2 times']);
  });

  it("fails an answer that is another request's reply, that no worker produced, or that nothing ran", () => {
    const h = script();
    h.run(1, 'echo', 'a');
    h.run(1, 'echo', 'b');
    h.request(0, 'echo', 'a', 5, 'b');
    h.request(0, 'echo', 'b', 5, 'b?');
    h.request(0, 'echo', 'c', 5, 'c');
    h.run(1, 'echo', 'z');
    expect(messages(h.ops)).toEqual([
      'a was answered with the reply of another request (b)',
      'b was answered with a reply no worker produced for it: b?',
      'c was answered but no worker ran it',
      'a worker ran z, which no client sent',
    ]);
  });
});
