import { describe, expect, it } from 'vitest';
import { ReplicaCursor } from '../src/cursor.js';
import type { KvMsg } from '../src/kvmsg.js';

const update = (key: string, sequence: bigint): KvMsg => ({
  key,
  sequence,
  uuid: Buffer.alloc(0),
  properties: new Map(),
  body: Buffer.from('v'),
});
const hugz = (sequence: bigint): KvMsg => update('HUGZ', sequence);

describe('ReplicaCursor: a replica that follows everything', () => {
  it('applies the next sequence, drops what it holds, resyncs on a jump', () => {
    const cursor = new ReplicaCursor(['']);
    cursor.snapshot(10n, true);
    expect(cursor.next(update('/a', 11n))).toEqual({ kind: 'apply' });
    expect(cursor.sequence).toBe(11n);
    expect(cursor.next(update('/a', 11n))).toEqual({ kind: 'stale' });
    expect(cursor.next(update('/a', 5n))).toEqual({ kind: 'stale' });
    expect(cursor.next(update('/a', 13n))).toEqual({ kind: 'resync', reason: 'gap', held: 11n, seen: 13n });
    expect(cursor.sequence).toBe(11n);
  });

  it('a HUGZ ahead means the tail was missed, behind means the server restarted, 0 says nothing', () => {
    const cursor = new ReplicaCursor(['']);
    cursor.snapshot(10n, true);
    expect(cursor.next(hugz(10n))).toEqual({ kind: 'hugz' });
    expect(cursor.next(hugz(0n))).toEqual({ kind: 'hugz' });
    expect(cursor.next(hugz(12n))).toMatchObject({ kind: 'resync', reason: 'hugz' });
    expect(cursor.next(hugz(3n))).toMatchObject({ kind: 'resync', reason: 'restart', held: 10n, seen: 3n });
  });

  it('a snapshot taken before the stream was live is joined only by its next sequence or older', () => {
    const joined = new ReplicaCursor(['']);
    joined.snapshot(10n, false);
    expect(joined.next(update('/a', 11n))).toEqual({ kind: 'apply' });
    expect(joined.next(update('/a', 12n))).toEqual({ kind: 'apply' });

    const late = new ReplicaCursor(['']);
    late.snapshot(10n, false);
    expect(late.next(hugz(11n))).toMatchObject({ kind: 'resync', reason: 'hugz' }); // 11 may have been missed
    const jumped = new ReplicaCursor(['']);
    jumped.snapshot(10n, false);
    expect(jumped.next(update('/a', 12n))).toMatchObject({ kind: 'resync', reason: 'gap' });
    const older = new ReplicaCursor(['']);
    older.snapshot(10n, false);
    expect(older.next(hugz(9n))).toMatchObject({ kind: 'resync', reason: 'restart' });
  });
});

describe('ReplicaCursor: a replica of some subtrees', () => {
  it('takes jumps as normal, ignores other keys (HUGZ/x too), still catches a restart', () => {
    const cursor = new ReplicaCursor(['/a/']);
    cursor.snapshot(10n, true);
    expect(cursor.next(update('/a/1', 15n))).toEqual({ kind: 'apply' });
    expect(cursor.next(update('/b/1', 16n))).toEqual({ kind: 'ignore' });
    expect(cursor.next(update('HUGZ/x', 17n))).toEqual({ kind: 'ignore' });
    expect(cursor.next(hugz(40n))).toEqual({ kind: 'hugz' });
    expect(cursor.next(hugz(14n))).toMatchObject({ kind: 'resync', reason: 'restart' });
  });
});
