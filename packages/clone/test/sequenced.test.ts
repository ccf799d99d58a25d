import { describe, expect, it } from 'vitest';
import type { KvMsg } from '../src/kvmsg.js';
import { RECENT_UUIDS, SequencedUuids } from '../src/sequenced.js';
import { KvStore } from '../src/store.js';

const uuid = (n: number): Buffer => {
  const out = Buffer.alloc(16);
  out.writeUInt32BE(n, 12);
  return out;
};
const update = (n: number): KvMsg => ({
  key: `k${n}`,
  sequence: 0n,
  uuid: uuid(n),
  properties: new Map(),
  body: Buffer.from('v'),
});

describe('SequencedUuids', () => {
  it('remembers the last RECENT_UUIDS UUIDs and forgets the older ones, oldest first', () => {
    const sequenced = new SequencedUuids(new KvStore());
    const total = RECENT_UUIDS + 10;
    for (let n = 0; n < total; n++) sequenced.remember(uuid(n));
    for (let n = 0; n < 10; n++) expect(sequenced.has(update(n))).toBe(false);
    for (const n of [10, 11, RECENT_UUIDS, total - 1]) expect(sequenced.has(update(n))).toBe(true);
  });

  it('keeps a UUID remembered again for as long as its latest remembering', () => {
    const sequenced = new SequencedUuids(new KvStore());
    sequenced.remember(uuid(0));
    for (let n = 1; n < RECENT_UUIDS - 1; n++) sequenced.remember(uuid(n));
    sequenced.remember(uuid(0)); // again: its first slot is the next to be reused
    sequenced.remember(uuid(RECENT_UUIDS)); // reuses uuid 0's first slot
    sequenced.remember(uuid(RECENT_UUIDS + 1));
    expect(sequenced.has(update(0))).toBe(true);
    expect(sequenced.has(update(1))).toBe(false); // the oldest, forgotten
  });

  it('treats a UUID that is still its key’s current value as sequenced', () => {
    const store = new KvStore();
    const sequenced = new SequencedUuids(store);
    store.apply(update(7), 0);
    expect(sequenced.has(update(7))).toBe(true);
    expect(sequenced.has({ ...update(7), uuid: uuid(8) })).toBe(false);
  });
});
