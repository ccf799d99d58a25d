import { describe, expect, it } from 'vitest';
import { AsyncQueue } from '../src/async-queue.js';
import { Deque } from '../src/deque.js';
import { ExpiryList } from '../src/expiry.js';
import { expectFrames, frameEquals, readU64, u64 } from '../src/frames.js';
import { MinHeap } from '../src/heap.js';
import { StatusFeed } from '../src/status-feed.js';
import { ProtocolError } from '../src/errors.js';

describe('Deque', () => {
  it('keeps FIFO order across growth and wrap-around', () => {
    const d = new Deque<number>(4);
    const expected: number[] = [];
    let next = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 7; i++) {
        d.push(next);
        expected.push(next++);
      }
      for (let i = 0; i < 5; i++) expect(d.shift()).toBe(expected.shift());
    }
    expect([...d]).toEqual(expected);
    d.unshift(-1);
    expect(d.peek()).toBe(-1);
    expect(d.clear()).toEqual([-1, ...expected]);
    expect(d.length).toBe(0);
    expect(d.shift()).toBeUndefined();
  });
});

describe('MinHeap', () => {
  it('pops in key order', () => {
    const heap = new MinHeap<string>();
    const keys = [5, 3, 9, 1, 7, 3, 8, 2, 6, 4];
    keys.forEach((k, i) => heap.push(k, `${k}:${i}`));
    const out: number[] = [];
    while (heap.length > 0) {
      const key = heap.peekKey();
      heap.pop();
      out.push(key as number);
    }
    expect(out).toEqual([...keys].sort((a, b) => a - b));
    expect(heap.pop()).toBeUndefined();
  });
});

describe('ExpiryList', () => {
  it('purges from the head and stops at the first live entry; touch moves an entry to the tail', () => {
    const list = new ExpiryList<string, number>(100);
    list.touch('a', 1, 0);
    list.touch('b', 2, 10);
    list.touch('c', 3, 20);
    list.touch('a', 1, 50); // a heartbeat: a moves behind c
    const expired: string[] = [];
    expect(list.purge(125, (k) => expired.push(k))).toBe(2);
    expect(expired).toEqual(['b', 'c']);
    expect([...list.entries()]).toEqual([['a', 1]]);
    expect(list.expiresAt('a')).toBe(150);
    expect(list.purge(149, () => undefined)).toBe(0);
  });
});
describe('ExpiryList: the edges', () => {
  it('refuses a ttl that is not positive, naming ttlMs', () => {
    expect(() => new ExpiryList(0)).toThrow(/ttlMs must be > 0/);
    expect(() => new ExpiryList(Number.NaN)).toThrow(/ttlMs/);
    expect(new ExpiryList(1).ttlMs).toBe(1);
  });

  it('get() and expiresAt() of a key it does not hold are undefined', () => {
    const list = new ExpiryList<string, number>(100);
    expect(list.get('x')).toBeUndefined();
    expect(list.expiresAt('x')).toBeUndefined();
    list.touch('a', 7, 10);
    expect(list.get('a')).toBe(7);
    expect(list.expiresAt('a')).toBe(110);
  });
});

describe('AsyncQueue', () => {
  it('delivers pushed values in order, then ends or throws', async () => {
    const q = new AsyncQueue<number>();
    q.push(1);
    q.push(2);
    setTimeout(() => {
      q.push(3);
      q.end(new Error('boom'));
    }, 5);
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const v of q) seen.push(v);
      })(),
    ).rejects.toThrow('boom');
    expect(seen).toEqual([1, 2, 3]);
    expect(q.push(4)).toBe(false);
  });

  it('drops the oldest past its limit', () => {
    const q = new AsyncQueue<number>(2);
    [1, 2, 3].forEach((v) => q.push(v));
    expect(q.dropped).toBe(1);
    expect(q.length).toBe(2);
  });
});

describe('frames', () => {
  it('encodes u64 big-endian and validates frame counts', () => {
    expect(u64(258n).toString('hex')).toBe('0000000000000102');
    expect(readU64(u64(2n ** 63n + 5n))).toBe(2n ** 63n + 5n);
    for (const n of [0n, 1n, 0x80000000n, 2n ** 32n - 1n, 2n ** 32n, 0x123456789abcdef0n, 2n ** 64n - 1n]) {
      expect(readU64(u64(n))).toBe(n);
    }
    // a view into a larger buffer, at an offset
    const wide = Buffer.concat([Buffer.from([9, 9, 9]), u64(0xfedcba9876543210n)]);
    expect(readU64(new Uint8Array(wide.buffer, wide.byteOffset + 3, 8))).toBe(0xfedcba9876543210n);
    expect(() => readU64(Buffer.alloc(4))).toThrow(ProtocolError);
    expect(() => expectFrames([1, 2], 3, 3, 'READY')).toThrow('READY: expected 3 frames, got 2');
    expect(() => expectFrames([1, 2, 3], 3)).not.toThrow();
  });
});

describe('StatusFeed', () => {
  it('gives each subscriber its own copy from subscription on, and ends them all', async () => {
    const feed = new StatusFeed<string>();
    feed.emit('before');
    const a = feed.subscribe();
    feed.emit('one');
    const b = feed.subscribe();
    feed.emit('two');
    feed.end();
    const read = async (it: AsyncIterableIterator<string>) => {
      const out: string[] = [];
      for await (const v of it) out.push(v);
      return out;
    };
    expect(await read(a)).toEqual(['one', 'two']);
    expect(await read(b)).toEqual(['two']);
    expect(await read(feed.subscribe())).toEqual([]); // a late subscriber is already finished
  });

  it('drops a subscriber that broke out of its loop', async () => {
    const feed = new StatusFeed<number>();
    const it = feed.subscribe();
    feed.emit(1);
    for await (const _ of it) break;
    feed.emit(2);
    expect((await it.next()).done).toBe(true);
  });
});

describe('frameEquals', () => {
  it('compares bytes, short frames and long ones alike', () => {
    const long = Buffer.alloc(40, 7);
    expect(frameEquals(Buffer.from('MDPW01'), Buffer.from('MDPW01'))).toBe(true);
    expect(frameEquals(Buffer.from('MDPW01'), Buffer.from('MDPW02'))).toBe(false);
    expect(frameEquals(Buffer.from('MDPW0'), Buffer.from('MDPW01'))).toBe(false);
    expect(frameEquals(Buffer.alloc(0), new Uint8Array(0))).toBe(true);
    expect(frameEquals(long, Buffer.from(long))).toBe(true);
    const other = Buffer.from(long);
    other[39] = 8;
    expect(frameEquals(long, other)).toBe(false);
  });
});
