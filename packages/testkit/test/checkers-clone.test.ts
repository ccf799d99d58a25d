/**
 * The Clone checker on hand-made histories: each guarantee has histories that must pass and
 * histories that must fail, including the failures the fault runs exist to find (a lost write, a
 * stale value replayed over a newer one, a reused sequence, a TTL that never fires) and the
 * legitimate oddities of a split brain (one number on both sides, the loser's value coming last).
 */
import { describe, expect, it } from 'vitest';
import type { Op } from '../src/history.js';
import {
  checkConvergence,
  checkFinalState,
  checkMonotonicReads,
  checkNoLostWrites,
  checkSequences,
  cloneChecker,
} from '../src/checkers/clone.js';

/** A history built by hand, with explicit times. */
function build() {
  const ops: Op[] = [];
  const add = (op: Omit<Op, 'index'>): Op => {
    const full = { ...op, index: ops.length } as Op;
    ops.push(full);
    return full;
  };
  return {
    ops,
    /** A write invoked at `at`, completed at `at + 5`. */
    write(
      process: string,
      key: string,
      value: string | undefined,
      outcome: 'ok' | 'unknown' | 'fail' | 'none',
      opts: { sequence?: number; server?: string; at?: number; ttlMs?: number } = {},
    ) {
      const at = opts.at ?? ops.length;
      const f = value === undefined ? 'delete' : 'write';
      const invoke = add({ process, type: 'invoke', f, key, value, time: at, ttlMs: opts.ttlMs ?? 0 });
      if (outcome === 'none') return;
      add({
        process,
        type: outcome,
        f,
        key,
        value,
        time: at + 5,
        invoke: invoke.index,
        ttlMs: opts.ttlMs ?? 0,
        ...(outcome === 'ok' ? { sequence: String(opts.sequence ?? 0), server: opts.server ?? 'primary' } : {}),
      });
    },
    read(process: string, key: string, value: string | undefined, sequence: number, at?: number, server = 'primary') {
      add({ process, type: 'ok', f: 'read', key, value, sequence: String(sequence), server, time: at ?? ops.length });
    },
    final(process: string, map: Record<string, string>, at?: number) {
      add({ process, type: 'ok', f: 'final', value: map, time: at ?? ops.length });
    },
    role(server: string, value: 'active' | 'passive', at: number) {
      add({ process: `server-${server}`, type: 'ok', f: 'role', value, server, time: at });
    },
    splitBrain(server: string, stays: boolean, at: number) {
      add({ process: `server-${server}`, type: 'ok', f: 'split-brain', stays, server, time: at });
    },
    fault(name: string, start: number, end?: number) {
      const inv = add({ process: 'nemesis', type: 'invoke', f: 'start', fault: name, kind: 'partition', time: start });
      add({ process: 'nemesis', type: 'ok', f: 'start', fault: name, time: start + 1, invoke: inv.index });
      if (end === undefined) return;
      const stop = add({ process: 'nemesis', type: 'invoke', f: 'stop', fault: name, time: end - 1 });
      add({ process: 'nemesis', type: 'ok', f: 'stop', fault: name, time: end, invoke: stop.index });
    },
  };
}

const options = { convergenceMs: 10_000 };
const messages = (r: { errors: { message: string }[] }) => r.errors.map((e) => e.message).join('\n');

describe('checkFinalState and checkNoLostWrites', () => {
  it('pass when every replica ends with the highest-sequenced committed write', () => {
    const h = build();
    h.write('client-1', 'k', 'a', 'ok', { sequence: 1 });
    h.write('client-2', 'k', 'b', 'ok', { sequence: 2 });
    h.write('client-2', 'j', 'c', 'ok', { sequence: 3 });
    for (const r of ['client-1', 'client-2', 'server-primary', 'server-backup']) h.final(r, { k: 'b', j: 'c' });
    expect(checkFinalState(h.ops, options)).toMatchObject({ valid: true, stats: { replicas: 4 } });
    expect(checkNoLostWrites(h.ops, options).valid).toBe(true);
  });

  it('fail when one replica (the passive, say) keeps an older value or lacks a key', () => {
    const h = build();
    h.write('client-1', 'k', 'a', 'ok', { sequence: 1 });
    h.write('client-2', 'k', 'b', 'ok', { sequence: 2 });
    h.final('client-1', { k: 'b' });
    h.final('server-backup', { k: 'a' });
    h.final('client-2', {});
    const final = checkFinalState(h.ops, options);
    expect(final.valid).toBe(false);
    expect(messages(final)).toMatch(/server-backup ends with k=a, expected b/);
    expect(messages(final)).toMatch(/client-2 ends with k=\(absent\)/);
    const lost = checkNoLostWrites(h.ops, options);
    expect(lost.errors.map((e) => e.message)).toEqual([
      'acknowledged write client-2 k=b (sequence 2) lost: server-backup ends with a',
      'acknowledged write client-2 k=b (sequence 2) lost: client-2 ends with (absent)',
    ]);
  });

  it('a write whose commit timed out may or may not take effect, at any time after it was sent', () => {
    for (const end of ['a', 'u']) {
      const h = build();
      h.write('client-2', 'k', 'u', 'unknown', { at: 0 }); // timed out before the next write...
      h.write('client-1', 'k', 'a', 'ok', { sequence: 5, at: 100 }); // ...but may land after it
      h.final('client-1', { k: end });
      expect(checkFinalState(h.ops, options).valid, end).toBe(true);
      expect(checkNoLostWrites(h.ops, options).valid, end).toBe(true);
    }
    const never = build();
    never.write('client-2', 'k', 'u', 'none', { at: 0 }); // the run ended before it completed
    never.final('client-1', { k: 'u' });
    expect(checkFinalState(never.ops, options).valid).toBe(true);
  });

  it('an unacknowledged write seen before the last committed one cannot be the final value', () => {
    const h = build();
    h.write('client-2', 'k', 'u', 'unknown');
    h.read('client-3', 'k', 'u', 3);
    h.write('client-1', 'k', 'b', 'ok', { sequence: 5 });
    h.final('client-1', { k: 'b' });
    expect(checkFinalState(h.ops, options).valid).toBe(true);
    h.final('client-3', { k: 'u' });
    const r = checkFinalState(h.ops, options);
    expect(messages(r)).toMatch(/client-3 ends with k=u, expected b$/);
    expect(checkNoLostWrites(h.ops, options).valid).toBe(false);
  });

  it('an unacknowledged write seen after the last committed one replaces it', () => {
    const h = build();
    h.write('client-1', 'k', 'b', 'ok', { sequence: 5 });
    h.write('client-2', 'k', 'u', 'unknown');
    h.read('client-3', 'k', 'u', 7);
    h.final('client-1', { k: 'u' });
    expect(checkFinalState(h.ops, options).valid).toBe(true);
    expect(checkNoLostWrites(h.ops, options).valid).toBe(true);
    h.final('client-2', { k: 'b' });
    expect(messages(checkFinalState(h.ops, options))).toMatch(/client-2 ends with k=b, expected u/);
  });

  it('a failed write, or a value nobody wrote, is never a final value', () => {
    const h = build();
    h.write('client-1', 'k', 'a', 'ok', { sequence: 1 });
    h.write('client-2', 'k', 'f', 'fail');
    h.final('client-1', { k: 'f' });
    h.final('client-2', { k: 'a', z: 'ghost' });
    const r = checkFinalState(h.ops, options);
    expect(messages(r)).toMatch(/client-1 ends with k=f, expected a/);
    expect(messages(r)).toMatch(/client-2 ends with z=ghost, expected \(absent\) \(a value nobody wrote\)/);
  });

  it('a committed delete leaves nothing', () => {
    const h = build();
    h.write('client-1', 'k', 'a', 'ok', { sequence: 1 });
    h.write('client-1', 'k', undefined, 'ok', { sequence: 2 });
    h.final('client-1', {});
    expect(checkFinalState(h.ops, options).valid).toBe(true);
    h.final('client-2', { k: 'a' });
    expect(messages(checkFinalState(h.ops, options))).toMatch(/client-2 ends with k=a, expected \(absent\)/);
  });

  it('a TTL: present before it can expire, either in its window, absent after it must have', () => {
    const cases: [number, Record<string, string>, boolean][] = [
      [500, { k: 'a' }, true],
      [500, {}, false], // gone before its TTL
      [2500, { k: 'a' }, true],
      [2500, {}, true],
      [10_000, {}, true],
      [10_000, { k: 'a' }, false], // never expired (latest: 1000 + 1000 flush + 2000 slack after it was seen)
    ];
    for (const [at, map, valid] of cases) {
      const h = build();
      h.write('client-1', 'k', 'a', 'ok', { sequence: 1, at: 0, ttlMs: 1000 });
      h.final('client-1', map, at);
      expect(checkFinalState(h.ops, options).valid, `${at} ${JSON.stringify(map)}`).toBe(valid);
    }
    const lost = build();
    lost.write('client-1', 'k', 'a', 'ok', { sequence: 1, at: 0, ttlMs: 1000 });
    lost.final('client-1', {}, 10_000);
    expect(checkNoLostWrites(lost.ops, options).valid).toBe(true); // expired, not lost
  });

  it('a stale write replayed over a newer one on failover is caught', () => {
    const h = build();
    h.write('client-1', 'k', 'old', 'ok', { sequence: 5 });
    h.write('client-2', 'k', 'new', 'ok', { sequence: 6 });
    h.read('client-3', 'k', 'new', 6);
    h.read('client-3', 'k', 'old', 7, undefined, 'backup'); // the new active replays a late copy
    h.final('client-3', { k: 'old' });
    h.final('server-backup', { k: 'old' });
    expect(checkFinalState(h.ops, options).valid).toBe(false);
    expect(checkNoLostWrites(h.ops, options).valid).toBe(false);
    expect(messages(checkMonotonicReads(h.ops))).toMatch(/client-3 read client-1 k=old .* after a newer value new/);
  });
});

describe('split brain', () => {
  /** Primary active, backup voted active at 100, both commit, the backup loses at 300. */
  function splitBrain() {
    const h = build();
    h.role('primary', 'active', 0);
    h.write('client-1', 'k', 'p1', 'ok', { sequence: 4, server: 'primary', at: 10 });
    h.role('backup', 'active', 100);
    h.write('client-1', 'k', 'p2', 'ok', { sequence: 5, server: 'primary', at: 200 });
    h.write('client-2', 'k', 'b1', 'ok', { sequence: 5, server: 'backup', at: 210 });
    h.write('client-1', 'j', 'p3', 'ok', { sequence: 6, server: 'primary', at: 220 });
    h.splitBrain('primary', true, 300);
    h.splitBrain('backup', false, 300);
    return h;
  }

  it("one number on both sides is allowed; the loser's write comes last", () => {
    const h = splitBrain();
    h.read('client-1', 'k', 'b1', 9, 320); // handed over and sequenced again by the winner
    for (const r of ['client-1', 'client-2', 'server-primary', 'server-backup']) h.final(r, { k: 'b1', j: 'p3' }, 400);
    expect(checkSequences(h.ops)).toMatchObject({ valid: true, stats: { splitBrainSequences: 1 } });
    expect(checkFinalState(h.ops, options).valid).toBe(true);
    expect(checkNoLostWrites(h.ops, options).valid).toBe(true);
    expect(checkMonotonicReads(h.ops).valid).toBe(true);
  });

  it("the loser's write lost in the hand-over is caught, whether or not a read showed the hand-over", () => {
    const h = splitBrain();
    h.final('client-1', { k: 'p2', j: 'p3' }, 400);
    expect(messages(checkNoLostWrites(h.ops, options))).toMatch(/acknowledged write client-2 k=b1 .* lost/);
    expect(checkFinalState(h.ops, options).valid).toBe(false);
  });

  it("a loser's write the winner had a copy of is placed where the winner's reads show it", () => {
    const h = splitBrain();
    // The winner got a late copy of b1 at 6, before its own delete at 7: the delete is last.
    h.read('client-1', 'k', 'b1', 6, 250, 'primary');
    h.write('client-1', 'k', undefined, 'ok', { sequence: 7, server: 'primary', at: 260 });
    h.final('client-1', { j: 'p3' }, 400);
    expect(checkFinalState(h.ops, options).valid).toBe(true);
    h.final('client-2', { k: 'b1', j: 'p3' }, 400);
    expect(messages(checkFinalState(h.ops, options))).toMatch(/client-2 ends with k=b1, expected \(absent\)/);
  });

  it("a loser's delete no read can place may or may not come last", () => {
    const h = splitBrain();
    h.write('client-2', 'k', undefined, 'ok', { sequence: 6, server: 'backup', at: 250 });
    h.final('client-1', { j: 'p3' }, 400);
    h.final('client-2', { k: 'b1', j: 'p3' }, 400);
    expect(checkFinalState(h.ops, options).valid).toBe(true);
    expect(checkNoLostWrites(h.ops, options).valid).toBe(true);
    h.final('client-3', { k: 'p2', j: 'p3' }, 400); // the loser's last value or its delete, not the winner's
    expect(messages(checkFinalState(h.ops, options))).toMatch(/client-3 ends with k=p2, expected b1 or \(absent\)/);
  });

  it("a loser's unacknowledged write is placed where the winner's reads show it, as an acknowledged one is", () => {
    const h = splitBrain();
    h.write('client-2', 'k', 'u', 'unknown', { at: 150 }); // its commit timed out
    h.read('client-2', 'k', 'u', 4, 195, 'backup'); // the loser sequenced it before b1
    h.read('client-2', 'k', 'b1', 5, 215, 'backup');
    // The winner sequences the loser's updates again, in an order of its own: b1 at 9, then u.
    h.read('client-1', 'k', 'b1', 9, 320);
    h.read('client-1', 'k', 'u', 10, 321);
    expect(messages(checkMonotonicReads(h.ops))).toBe('');
    h.read('client-1', 'k', 'b1', 9, 330); // but going back to b1 on the winner is not monotonic
    expect(messages(checkMonotonicReads(h.ops))).toMatch(/client-1 read client-2 k=b1 .* after a newer value u/);
  });

  it("reads the loser served while both were active are its own lineage, not checked against the winner's", () => {
    const h = splitBrain();
    h.read('client-2', 'k', 'p2', 5, 215, 'primary');
    h.read('client-2', 'k', 'b1', 5, 230, 'backup'); // served by the loser: undone by the hand-over
    h.read('client-2', 'k', 'p2', 9, 350, 'primary');
    expect(checkMonotonicReads(h.ops).valid).toBe(true);
    h.read('client-2', 'k', 'p1', 10, 360, 'primary'); // but an older value from the winner is not
    expect(messages(checkMonotonicReads(h.ops))).toMatch(/client-2 read client-1 k=p1/);
  });

  it("the split starts with the fault that led to it, not with the loser's whole term", () => {
    const h = build();
    h.role('primary', 'active', 0);
    h.write('client-1', 'k', 'old', 'ok', { sequence: 3, server: 'primary', at: 10 }); // replicated long before
    h.fault('pair cut', 50, 290);
    h.write('client-1', 'k', 'cut', 'ok', { sequence: 4, server: 'primary', at: 60 }); // after the cut, before the vote
    h.role('backup', 'active', 100);
    h.write('client-2', 'j', 'b1', 'ok', { sequence: 4, server: 'backup', at: 210 });
    h.splitBrain('primary', false, 300);
    h.role('primary', 'passive', 301);
    expect(checkSequences(h.ops)).toMatchObject({ valid: true, stats: { splitBrainSequences: 1 } });
    h.final('client-2', { k: 'cut', j: 'b1' }, 400);
    expect(checkFinalState(h.ops, options).valid).toBe(true);
    h.final('client-1', { k: 'old', j: 'b1' }, 400);
    expect(messages(checkFinalState(h.ops, options))).toMatch(/client-1 ends with k=old, expected cut/);
  });

  it('without a split brain lost, one number for two updates is an error', () => {
    const h = build();
    h.write('client-1', 'k', 'p2', 'ok', { sequence: 5, server: 'primary' });
    h.write('client-2', 'j', 'b1', 'ok', { sequence: 5, server: 'backup' });
    expect(messages(checkSequences(h.ops))).toMatch(/sequence 5 names two updates/);
    const same = build();
    same.write('client-1', 'k', 'x', 'ok', { sequence: 5 });
    same.write('client-2', 'k', 'y', 'ok', { sequence: 5 });
    expect(checkSequences(same.ops).valid).toBe(false);
  });

  it('a number reused on the winning side is an error even in a split brain', () => {
    const h = splitBrain();
    h.write('client-3', 'z', 'p9', 'ok', { sequence: 6, server: 'primary', at: 230 });
    expect(messages(checkSequences(h.ops))).toMatch(
      /sequence 6 names two updates: client-1 j=p3 on primary and client-3 z=p9/,
    );
  });
});

describe('checkMonotonicReads', () => {
  it('passes reads that only move forward, per client and key', () => {
    const h = build();
    h.write('client-1', 'k', 'a', 'ok', { sequence: 1 });
    h.write('client-1', 'k', 'b', 'ok', { sequence: 2 });
    h.read('client-2', 'k', 'a', 1);
    h.read('client-2', 'k', 'b', 2);
    h.read('client-3', 'k', 'b', 2);
    h.read('client-3', 'k', 'b', 2);
    expect(checkMonotonicReads(h.ops).valid).toBe(true);
  });

  it('fails a read of an older value, a value nobody wrote, or a failed write', () => {
    const h = build();
    h.write('client-1', 'k', 'a', 'ok', { sequence: 1 });
    h.write('client-1', 'k', 'b', 'ok', { sequence: 2 });
    h.write('client-1', 'k', 'f', 'fail');
    h.read('client-2', 'k', 'b', 2);
    h.read('client-2', 'k', 'a', 3);
    h.read('client-2', 'k', 'ghost', 4);
    h.read('client-2', 'k', 'f', 5);
    const r = checkMonotonicReads(h.ops);
    expect(r.errors.map((e) => e.message)).toEqual([
      'client-2 read client-1 k=a (order 0/1) after a newer value b (order 0/2)',
      'client-2 read k=ghost, which nobody wrote there',
      'client-2 read client-1 k=f, a write that failed',
    ]);
  });
});

describe('checkConvergence', () => {
  it('passes when every final map is read within the bound of the last heal', () => {
    const h = build();
    h.fault('pair cut', 100, 5000);
    h.write('client-1', 'k', 'a', 'ok', { sequence: 1, at: 4000 });
    h.final('client-1', { k: 'a' }, 9000);
    expect(checkConvergence(h.ops, { convergenceMs: 5000 })).toMatchObject({
      valid: true,
      stats: { convergenceMs: 4000 },
    });
  });

  it('fails a replica that converged too late, a fault never healed, or no final map at all', () => {
    const late = build();
    late.fault('pair cut', 100, 5000);
    late.final('client-1', {}, 12_000);
    expect(messages(checkConvergence(late.ops, { convergenceMs: 5000 }))).toMatch(/client-1 converged 7000 ms after/);
    const open = build();
    open.fault('pause primary', 100);
    open.final('client-1', {}, 200);
    expect(messages(checkConvergence(open.ops, { convergenceMs: 5000 }))).toMatch(/pause primary was never healed/);
    expect(checkConvergence(build().ops, { convergenceMs: 5000 }).valid).toBe(false);
  });
});

describe('cloneChecker', () => {
  it('runs every check and names each error after its check', () => {
    const h = build();
    h.write('client-1', 'k', 'a', 'ok', { sequence: 1 });
    h.write('client-2', 'k', 'b', 'ok', { sequence: 1 });
    h.final('client-1', { k: 'a', z: 'ghost' });
    const r = cloneChecker(options)(h.ops);
    expect(r.valid).toBe(false);
    expect(r.errors.map((e) => e.message.split(':')[0])).toEqual(
      expect.arrayContaining(['final state', 'lost writes', 'sequences']),
    );
    const ok = build();
    ok.write('client-1', 'k', 'a', 'ok', { sequence: 1 });
    ok.final('client-1', { k: 'a' });
    expect(cloneChecker(options)(ok.ops)).toMatchObject({ valid: true, errors: [] });
  });
});
