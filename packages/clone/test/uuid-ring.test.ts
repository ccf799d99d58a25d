import { describe, expect, it } from 'vitest';
import { UuidRing } from '../src/uuid-ring.js';

const uuid = (n: number, salt = 0): Buffer => {
  const out = Buffer.alloc(16, salt);
  out.writeUInt32BE(n >>> 0, 12);
  out.writeUInt32BE(Math.imul(n, 2654435761) >>> 0, 0);
  return out;
};

describe('UuidRing', () => {
  it('remembers the last `capacity` UUIDs and forgets the oldest', () => {
    const ring = new UuidRing(100);
    for (let i = 0; i < 250; i++) ring.add(uuid(i));
    expect(ring.size).toBe(100);
    for (let i = 0; i < 150; i++) expect(ring.has(uuid(i))).toBe(false);
    for (let i = 150; i < 250; i++) expect(ring.has(uuid(i))).toBe(true);
  });

  it('moves a UUID added again to the newest place (its old slot is left free)', () => {
    const ring = new UuidRing(3);
    ring.add(uuid(1));
    ring.add(uuid(2));
    ring.add(uuid(1));
    ring.add(uuid(3));
    ring.add(uuid(4)); // forgets 2, the oldest; 1 was refreshed
    expect(ring.size).toBe(3);
    expect([1, 2, 3, 4].map((n) => ring.has(uuid(n)))).toEqual([true, false, true, true]);
  });

  it('ignores anything that is not 16 bytes', () => {
    const ring = new UuidRing(4);
    ring.add(Buffer.alloc(0));
    ring.add(Buffer.alloc(8));
    expect(ring.size).toBe(0);
    expect(ring.has(Buffer.alloc(0))).toBe(false);
  });

  it('agrees with a reference model under colliding, repeated and evicted UUIDs', () => {
    const capacity = 64;
    const ring = new UuidRing(capacity);
    // the same slot ring: a UUID added again frees its old slot, the next one takes the oldest slot
    const model: (string | undefined)[] = new Array<string | undefined>(capacity).fill(undefined);
    let next = 0;
    let seed = 12345;
    const random = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let step = 0; step < 20_000; step++) {
      const id = uuid(random() % 200, random() % 2);
      const key = id.toString('hex');
      expect(ring.has(id)).toBe(model.includes(key));
      if (random() % 3 !== 0) {
        ring.add(id);
        const at = model.indexOf(key);
        if (at >= 0) model[at] = undefined;
        model[next] = key;
        next = (next + 1) % capacity;
      }
      expect(ring.size).toBe(model.filter((k) => k !== undefined).length);
    }
    for (const key of model) if (key !== undefined) expect(ring.has(Buffer.from(key, 'hex'))).toBe(true);
  });
});
