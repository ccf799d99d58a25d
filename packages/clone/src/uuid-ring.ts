/**
 * The last `capacity` 16-byte UUIDs, for duplicate detection on the server's hot path: their bytes
 * in one ring buffer, found through an open-addressing hash table (linear probing) of ring slots.
 * One more forgets the oldest, by its slot. Nothing is allocated per UUID: no string per UUID, no
 * `Map` entry, nothing for the garbage collector to copy or promote (100,000 remembered UUIDs as
 * latin1 strings in a `Map` were about 10 MB of old-space objects, and making the string cost a
 * call into the runtime per update).
 */
import { randomBytes } from 'node:crypto';

export const UUID_LENGTH = 16;

export class UuidRing {
  readonly #capacity: number;
  /** The UUIDs remembered, slot after slot (`UUID_LENGTH` bytes each). */
  readonly #bytes: Buffer;
  /** Each slot's hash, so a probe and a deletion compare hashes before bytes. */
  readonly #hashes: Int32Array;
  /** Whether a slot holds a UUID. */
  readonly #used: Uint8Array;
  /** Open addressing: slot + 1 at the hashed position (or after it), 0 = free. */
  readonly #table: Int32Array;
  readonly #mask: number;
  /**
   * This ring's hash seed, drawn at random: clients choose their UUIDs, and must not be able to
   * pick ones that collide and make every probe walk one long run.
   */
  readonly #seed = randomBytes(4).readInt32LE(0);
  /** The slot the next UUID takes: the oldest one's. */
  #next = 0;
  #size = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
    this.#bytes = Buffer.alloc(capacity * UUID_LENGTH);
    this.#hashes = new Int32Array(capacity);
    this.#used = new Uint8Array(capacity);
    let tableSize = 16;
    while (tableSize < capacity * 2) tableSize *= 2; // load factor at most 1/2: short probes
    this.#table = new Int32Array(tableSize);
    this.#mask = tableSize - 1;
  }

  /** UUIDs held. */
  get size(): number {
    return this.#size;
  }

  /** Whether `uuid` (16 bytes) is held. */
  has(uuid: Uint8Array): boolean {
    return uuid.length === UUID_LENGTH && this.#find(uuid, hashUuid(uuid, this.#seed)) >= 0;
  }

  /** Remember `uuid` (16 bytes) as the newest (one held already moves there); the oldest goes past `capacity`. */
  add(uuid: Uint8Array): void {
    if (uuid.length !== UUID_LENGTH) return;
    const hash = hashUuid(uuid, this.#seed);
    const held = this.#find(uuid, hash);
    if (held >= 0) this.#forget((this.#table[held] ?? 0) - 1);
    const slot = this.#next;
    if (this.#used[slot] === 1) this.#forget(slot);
    this.#bytes.set(uuid, slot * UUID_LENGTH);
    this.#hashes[slot] = hash;
    this.#used[slot] = 1;
    this.#size++;
    const table = this.#table;
    const mask = this.#mask;
    let at = hash & mask;
    while (table[at] !== 0) at = (at + 1) & mask;
    table[at] = slot + 1;
    this.#next = slot + 1 === this.#capacity ? 0 : slot + 1;
  }

  /** The table position holding `uuid`, or -1. */
  #find(uuid: Uint8Array, hash: number): number {
    const table = this.#table;
    const mask = this.#mask;
    const bytes = this.#bytes;
    const hashes = this.#hashes;
    for (let at = hash & mask; ; at = (at + 1) & mask) {
      const entry = table[at] ?? 0;
      if (entry === 0) return -1;
      const slot = entry - 1;
      if (hashes[slot] === hash && sameUuid(bytes, slot * UUID_LENGTH, uuid)) return at;
    }
  }

  /** Free `slot` and its table entry (backward-shift deletion: no tombstones). */
  #forget(slot: number): void {
    const table = this.#table;
    const mask = this.#mask;
    const hashes = this.#hashes;
    let at = (hashes[slot] ?? 0) & mask;
    while (table[at] !== slot + 1) {
      if (table[at] === 0) return; // not in the table (cannot happen for a used slot)
      at = (at + 1) & mask;
    }
    this.#used[slot] = 0;
    this.#size--;
    // Move later entries of the same run back into the hole when their home is not after it.
    let hole = at;
    for (let next = (hole + 1) & mask; table[next] !== 0; next = (next + 1) & mask) {
      const home = (hashes[(table[next] ?? 1) - 1] ?? 0) & mask;
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      table[hole] = table[next] ?? 0;
      hole = next;
    }
    table[hole] = 0;
  }
}

/** A 32-bit hash of a UUID's 16 bytes (murmur3's mixing over four little-endian words, seeded). */
function hashUuid(b: Uint8Array, seed: number): number {
  let h = seed;
  for (let i = 0; i < UUID_LENGTH; i += 4) {
    let k = (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8) | ((b[i + 2] ?? 0) << 16) | ((b[i + 3] ?? 0) << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** The 16 bytes at `offset` of `ring` equal `uuid` (from the end: a counter's bytes differ first). */
function sameUuid(ring: Uint8Array, offset: number, uuid: Uint8Array): boolean {
  for (let i = UUID_LENGTH - 1; i >= 0; i--) if (ring[offset + i] !== uuid[i]) return false;
  return true;
}
