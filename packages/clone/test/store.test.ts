import { describe, expect, it } from 'vitest';
import type { KvMsg } from '../src/kvmsg.js';
import { KvStore, ttlRemainingMs } from '../src/store.js';

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

describe('KvStore.replace and ttl forms', () => {
  it("replace() keeps the given sequence and reads ttl as seconds left, or as the book's absolute ms", () => {
    const store = new KvStore();
    const wall = Date.now();
    store.replace(
      [
        { msg: set('/rel', 'a', 2) },
        { msg: set('/abs', 'b', wall + 3000) }, // clonesrv6 stores zclock_time() + ttl * 1000
        { msg: set('/kept', 'c') },
        { msg: set('/gone', '') },
      ],
      41n,
      1000,
    );
    expect(store.sequence).toBe(41n);
    expect(store.size).toBe(3);
    expect(store.expiresAt('/rel')).toBe(3000);
    expect(store.expiresAt('/abs')).toBeGreaterThan(3000);
    expect(store.expiresAt('/abs')).toBeLessThanOrEqual(4000);
    expect(store.expire(3000).map((m) => [m.key, m.sequence, m.uuid.length])).toEqual([['/rel', 42n, 0]]);
    expect(store.expire(4001).map((m) => m.key)).toEqual(['/abs']);
  });

  it('a long relative ttl (1e11 s and more) in a KVSET is seconds, not an absolute time', () => {
    const store = new KvStore();
    store.apply(set('/long', 'x', 1e11), 0);
    store.applySequenced({ ...set('/longer', 'y', 2e12), sequence: 5n }, 0);
    expect(store.expiresAt('/long')).toBe(1e14);
    expect(store.expiresAt('/longer')).toBe(2e15);
    expect(store.expire(1e6)).toEqual([]);
    // in a snapshot, only a value within ten years of now reads as the book's absolute time
    store.replace([{ msg: set('/snap', 'z', 1e11) }], 6n, 0);
    expect(store.expiresAt('/snap')).toBe(1e14);
  });

  it('ttlRemainingMs: absent, zero and garbage mean never', () => {
    expect(ttlRemainingMs(new Map())).toBe(0);
    expect(ttlRemainingMs(new Map([['ttl', '0']]))).toBe(0);
    expect(ttlRemainingMs(new Map([['ttl', 'soon']]))).toBe(0);
    expect(ttlRemainingMs(new Map([['ttl', '5']]))).toBe(5000);
  });

  it('a passive store that never expires keeps its expiry heap bounded by its live keys', () => {
    const store = new KvStore();
    for (let i = 1; i <= 20_000; i += 1) {
      store.applySequenced({ ...set(`/t/${i % 10}`, `v${i}`, 60), sequence: BigInt(i) }, i);
    }
    expect(store.size).toBe(10);
    expect(store.expiryBacklog).toBeLessThanOrEqual(2 * store.size + 1024);
    // the entries still live keep their deadline
    expect(
      store
        .expire(20_000 + 60_000)
        .map((m) => m.key)
        .sort(),
    ).toHaveLength(10);
  });
});
