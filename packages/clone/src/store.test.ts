import { describe, expect, it } from 'vitest';
import type { KvMsg } from './kvmsg.js';
import { KvStore } from './store.js';

const set = (key: string, body: string, ttl?: number): KvMsg => ({
  key,
  sequence: 0n,
  uuid: Buffer.alloc(0),
  properties: new Map(ttl === undefined ? [] : [['ttl', String(ttl)]]),
  body: Buffer.from(body),
});

describe('KvStore', () => {
  it('sequences every update, deletes on empty body', () => {
    const store = new KvStore();
    expect(store.apply(set('/a/1', 'x'), 0).sequence).toBe(1n);
    expect(store.apply(set('/a/2', 'y'), 0).sequence).toBe(2n);
    expect(store.apply(set('/a/1', ''), 0).sequence).toBe(3n);
    expect(store.get('/a/1')).toBeUndefined();
    expect(store.get('/a/2')?.body.toString()).toBe('y');
    expect(store.size).toBe(1);
  });

  it('expires TTL keys from the heap as sequenced deletes; overwritten keys are not expired', () => {
    const store = new KvStore(10n);
    store.apply(set('/t/1', 'a', 1), 0);
    store.apply(set('/t/2', 'b', 2), 0);
    store.apply(set('/t/1', 'c'), 500); // overwritten without ttl: must survive
    expect(store.expire(999)).toEqual([]);
    expect(store.expire(2000).map((m) => [m.key, m.sequence, m.body.length])).toEqual([['/t/2', 14n, 0]]);
    expect([...store.snapshot('', 2000)].map((m) => m.key)).toEqual(['/t/1']);
    expect(store.sequence).toBe(14n);
  });

  it('snapshots filter by byte prefix and give the ttl left in seconds', () => {
    const store = new KvStore();
    store.apply(set('/a/1', 'x', 30), 0);
    store.apply(set('/ab', 'y'), 0);
    store.apply(set('/b/1', 'z'), 0);
    const snap = [...store.snapshot('/a/', 10_000)];
    expect(snap.map((m) => m.key)).toEqual(['/a/1']);
    expect(snap[0]?.properties.get('ttl')).toBe('20');
  });
});
