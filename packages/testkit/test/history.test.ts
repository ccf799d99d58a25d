import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertHistory, History, pairOps, type Checker } from '../src/history.js';

const dir = mkdtempSync(join(tmpdir(), 'history-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('History', () => {
  it('records invokes and their completions with indexes, times and the invoke fields', () => {
    const history = new History({ seed: 7, name: 'unit' });
    const write = history.invoke('client-1', 'write', { key: 'k', value: 'v1' });
    const read = history.invoke('client-2', 'read', { key: 'k' });
    const okOp = write.ok({ server: 'primary', sequence: '12' });
    const unknownOp = read.unknown();
    history.record({ process: 'nemesis', type: 'ok', f: 'start', fault: 'partition' });

    expect(history.ops.map((op) => op.index)).toEqual([0, 1, 2, 3, 4]);
    expect(history.ops.map((op) => op.type)).toEqual(['invoke', 'invoke', 'ok', 'unknown', 'ok']);
    expect(okOp).toMatchObject({ process: 'client-1', f: 'write', key: 'k', value: 'v1', server: 'primary' });
    expect(okOp['sequence']).toBe('12');
    expect(okOp['invoke']).toBe(0);
    expect(unknownOp).toMatchObject({ process: 'client-2', f: 'read', key: 'k', invoke: 1 });
    const times = history.ops.map((op) => op.time);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(times[0]).toBeGreaterThanOrEqual(0);
  });

  it('refuses to complete an operation twice', () => {
    const history = new History();
    const op = history.invoke('client-1', 'write', { key: 'k' });
    op.ok();
    expect(() => op.fail()).toThrow(/already complete/);
    expect(history.ops).toHaveLength(2);
  });

  it('pairs each invoke with its completion, concurrent operations of one process included', () => {
    const history = new History();
    const a = history.invoke('client-1', 'write', { key: 'a' });
    const b = history.invoke('client-1', 'write', { key: 'b' });
    history.invoke('client-2', 'write', { key: 'c' });
    b.ok();
    a.fail();
    const pairs = pairOps(history.ops);
    expect(pairs.map((p) => [p.invoke.key, p.completion?.type])).toEqual([
      ['a', 'fail'],
      ['b', 'ok'],
      ['c', undefined],
    ]);
  });

  it('writes JSON lines (bigint and Buffer as text) and reads them back', () => {
    const history = new History({ seed: 42, name: 'round-trip' });
    history.invoke('client-1', 'write', { key: 'k', value: Buffer.from('hello'), sequence: 5n }).ok();
    history.record({ process: 'nemesis', type: 'ok', f: 'stop', fault: 'kill primary' });
    const path = history.writeJsonl(dir);
    expect(path).toBe(join(dir, 'round-trip-seed-42.jsonl'));
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ value: 'hello', sequence: '5', type: 'invoke' });

    const back = History.readJsonl(path);
    expect(back.seed).toBe(42);
    expect(back.name).toBe('round-trip');
    expect(back.ops).toEqual(JSON.parse(`[${lines.join(',')}]`));
    expect(back.ops[2]).toMatchObject({ process: 'nemesis', f: 'stop', fault: 'kill primary', index: 2 });
  });
});

describe('assertHistory', () => {
  const noLostWrites: Checker = (ops) => {
    const lost = ops.filter((op) => op.type === 'ok' && op.f === 'write' && op.value === 'lost');
    return { valid: lost.length === 0, errors: lost.map((op) => ({ message: 'write lost', ops: [op.index] })) };
  };

  it('returns the result of a valid history without writing it', () => {
    const history = new History({ seed: 1, name: 'valid-run' });
    history.invoke('client-1', 'write', { value: 'kept' }).ok();
    expect(assertHistory(history, noLostWrites)).toEqual({ valid: true, errors: [] });
  });

  it('writes an invalid history and throws naming the seed, the path and the errors', () => {
    const previous = process.env['ZPATTERNS_HISTORY_DIR'];
    process.env['ZPATTERNS_HISTORY_DIR'] = dir;
    try {
      const history = new History({ seed: 99, name: 'invalid-run' });
      history.invoke('client-1', 'write', { value: 'lost' }).ok();
      const path = join(dir, 'invalid-run-seed-99.jsonl');
      expect(() => assertHistory(history, noLostWrites)).toThrow(
        new RegExp(
          `seed 99 is invalid: 1 error.*${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}[^]*write lost \\(ops 1\\)`,
        ),
      );
      expect(History.readJsonl(path).ops).toHaveLength(2);
    } finally {
      if (previous === undefined) delete process.env['ZPATTERNS_HISTORY_DIR'];
      else process.env['ZPATTERNS_HISTORY_DIR'] = previous;
    }
  });
});
