/**
 * The server's key-value map: one sequence per applied update, deletes on empty body, and TTL
 * expiry driven by a binary heap of deadlines (no scan of the whole map). Pure state, no sockets:
 * the server feeds it KVSETs and publishes what it returns.
 */
import { MinHeap } from '@zpatterns/core/internal';
import type { KvMsg } from './kvmsg.js';
import { encodeKvMsg, inSubtree, TTL_PROPERTY, ttlSeconds } from './kvmsg.js';

/**
 * In a snapshot, a `ttl` within this of the wall clock is the book's clonesrv6 storing an absolute
 * time in milliseconds (its snapshots carry `zclock_time() + ttl * 1000`): about ten years.
 */
const ABSOLUTE_TTL_WINDOW_MS = 10 * 365 * 24 * 3600 * 1000;

/**
 * Milliseconds left before an entry with these properties expires; 0 = never. A KVSET or KVPUB
 * always carries seconds; only a snapshot entry (`fromSnapshot`) may carry the book's absolute form.
 */
export function ttlRemainingMs(
  properties: ReadonlyMap<string, string>,
  wallNowMs = Date.now(),
  fromSnapshot = false,
): number {
  const ttl = ttlSeconds(properties);
  if (ttl === 0) return 0;
  if (fromSnapshot && Math.abs(ttl - wallNowMs) <= ABSOLUTE_TTL_WINDOW_MS) return Math.max(1, ttl - wallNowMs);
  return ttl * 1000;
}

/** Stale heap entries tolerated beyond twice the live keys before the heap is rebuilt. */
const COMPACT_SLACK = 1024;

/**
 * A stored entry: the kvmsg as last published, its absolute expiry (0 = none), and its frames as
 * published (`encodeKvMsg(msg)`), kept from the publication or made at the first snapshot that
 * sends them.
 */
export interface StoredEntry {
  msg: KvMsg;
  expiresAtMs: number;
  frames: Buffer[] | undefined;
}

export class KvStore {
  readonly #map = new Map<string, StoredEntry>();
  readonly #expiry = new MinHeap<{ key: string; entry: StoredEntry }>();
  #sequence = 0n;

  constructor(sequence = 0n) {
    this.#sequence = sequence;
  }

  get sequence(): bigint {
    return this.#sequence;
  }

  get size(): number {
    return this.#map.size;
  }

  /** Deadlines held in the expiry heap, stale ones included (bounded by about twice the live keys). */
  get expiryBacklog(): number {
    return this.#expiry.length;
  }

  get(key: string): KvMsg | undefined {
    return this.#map.get(key)?.msg;
  }

  /**
   * Sequence a client update and apply it. Returns the kvmsg to publish (the update itself, given
   * its sequence): the client's uuid, key, body and properties, with `ttl` still in seconds as CHP
   * publishes it.
   */
  apply(update: KvMsg, nowMs: number): KvMsg {
    return this.sequenceEntry(update, nowMs).msg;
  }

  /**
   * `apply`, returning the entry: `msg` and `frames`, its encoding to publish, kept with the entry
   * for snapshots (the entry of a delete too, though the map no longer holds one). The update
   * becomes the stored kvmsg, with its sequence: the caller hands it over (the server's own
   * decoded update), so no copy is made per update.
   */
  sequenceEntry(update: KvMsg, nowMs: number): StoredEntry {
    this.#sequence += 1n;
    // Properties maps are never changed once made: the stored kvmsg shares the update's.
    const msg = update;
    msg.sequence = this.#sequence;
    const { key, properties, body } = msg;
    const entry: StoredEntry = { msg, expiresAtMs: 0, frames: encodeKvMsg(msg) };
    if (body.length === 0) this.#map.delete(key);
    else {
      const remaining = properties.size === 0 ? 0 : ttlRemainingMs(properties);
      if (remaining > 0) entry.expiresAtMs = nowMs + remaining;
      this.#putEntry(entry);
    }
    return entry;
  }

  /**
   * Apply an update that already carries its sequence (the passive replaying the active's KVPUB,
   * an active its committed batch); `frames`, when given, are its encoding as published.
   */
  applySequenced(update: KvMsg, nowMs: number, frames?: Buffer[]): void {
    if (update.sequence > this.#sequence) this.#sequence = update.sequence;
    if (update.body.length === 0) {
      this.#map.delete(update.key);
      return;
    }
    const remaining = update.properties.size === 0 ? 0 : ttlRemainingMs(update.properties);
    this.#putEntry({ msg: update, expiresAtMs: remaining > 0 ? nowMs + remaining : 0, frames });
  }

  #put(msg: KvMsg, expiresAtMs: number): void {
    this.#putEntry({ msg, expiresAtMs, frames: undefined });
  }

  #putEntry(entry: StoredEntry): void {
    const key = entry.msg.key;
    this.#map.set(key, entry);
    if (entry.expiresAtMs === 0) return; // no TTL: nothing to keep track of
    this.#expiry.push(entry.expiresAtMs, { key, entry });
    if (this.#expiry.length > 2 * this.#map.size + COMPACT_SLACK) this.#compact();
  }

  /**
   * Rebuild the heap from the live entries. Only `expire()` pops stale deadlines (keys overwritten
   * or deleted since), and a passive server never calls it: without this its heap would grow with
   * every replicated TTL update.
   */
  #compact(): void {
    this.#expiry.clear();
    for (const [key, entry] of this.#map)
      if (entry.expiresAtMs > 0) this.#expiry.push(entry.expiresAtMs, { key, entry });
  }

  /**
   * Replace the whole map (a passive server taking the active's snapshot, or a restart loading
   * its journal). `remainingMs` per entry overrides the `ttl` property when given.
   */
  replace(entries: Iterable<{ msg: KvMsg; remainingMs?: number }>, sequence: bigint, nowMs: number): void {
    this.#map.clear();
    this.#expiry.clear();
    this.#sequence = sequence;
    for (const { msg, remainingMs } of entries) {
      if (msg.body.length === 0) continue;
      const left = remainingMs ?? ttlRemainingMs(msg.properties, Date.now(), true);
      this.#put(msg, left > 0 ? nowMs + left : 0);
    }
  }

  /** The absolute expiry (clock ms) of a key, 0 when it has none or is absent. */
  expiresAt(key: string): number {
    return this.#map.get(key)?.expiresAtMs ?? 0;
  }

  /**
   * Expire every entry whose deadline is at or before `nowMs`: each one becomes a sequenced delete
   * to publish. Heap entries for keys overwritten since are skipped (lazy deletion).
   */
  expire(nowMs: number): KvMsg[] {
    const deletes: KvMsg[] = [];
    for (;;) {
      const at = this.#expiry.peekKey();
      if (at === undefined || at > nowMs) break;
      const item = this.#expiry.pop();
      if (item === undefined) break;
      if (this.#map.get(item.key) !== item.entry) continue;
      this.#map.delete(item.key);
      this.#sequence += 1n;
      deletes.push(expiryDelete(item.key, item.entry, this.#sequence));
    }
    return deletes;
  }

  /**
   * The deletes `expire()` would make, without making them: the entries stay (and keep the
   * sequence) until the caller applies each delete with `applySequenced` after committing it. Their
   * deadlines leave the heap; `rearmExpiry` puts one back if the delete is not applied.
   */
  dueForExpiry(nowMs: number): KvMsg[] {
    const deletes: KvMsg[] = [];
    for (;;) {
      const at = this.#expiry.peekKey();
      if (at === undefined || at > nowMs) break;
      const item = this.#expiry.pop();
      if (item === undefined) break;
      if (this.#map.get(item.key) !== item.entry) continue;
      deletes.push(expiryDelete(item.key, item.entry, 0n));
    }
    return deletes;
  }

  /** Put a key's deadline back in the heap (its expiry delete was not committed). */
  rearmExpiry(key: string): void {
    const entry = this.#map.get(key);
    if (entry !== undefined && entry.expiresAtMs > 0) this.#expiry.push(entry.expiresAtMs, { key, entry });
  }

  /** Entries in a subtree, for a snapshot; `ttl` is given as the seconds still left. */
  *snapshot(subtree: string, nowMs: number): Generator<KvMsg> {
    for (const [key, entry] of this.#map) {
      if (!inSubtree(key, subtree)) continue;
      yield entry.expiresAtMs === 0 ? entry.msg : withTtlLeft(entry, nowMs);
    }
  }

  /**
   * The frames of every entry in a subtree, taken now, for a snapshot: each entry's frames as
   * published (kept with it), or for a key with a TTL, encoded with the seconds still left.
   */
  snapshotFrames(subtree: string, nowMs: number): Buffer[][] {
    const out: Buffer[][] = [];
    for (const entry of this.#map.values()) {
      if (subtree !== '' && !inSubtree(entry.msg.key, subtree)) continue;
      if (entry.expiresAtMs === 0) out.push((entry.frames ??= encodeKvMsg(entry.msg)));
      else out.push(encodeKvMsg(withTtlLeft(entry, nowMs)));
    }
    return out;
  }
}

/** An entry with a TTL as a snapshot gives it: `ttl` is the seconds still left. */
function withTtlLeft(entry: StoredEntry, nowMs: number): KvMsg {
  const props = new Map(entry.msg.properties);
  props.set(TTL_PROPERTY, String(Math.max(1, Math.ceil((entry.expiresAtMs - nowMs) / 1000))));
  return { ...entry.msg, properties: props };
}

/** The delete that expires `entry`: the entry's properties without `ttl`, an empty UUID and body. */
function expiryDelete(key: string, entry: StoredEntry, sequence: bigint): KvMsg {
  const props = new Map(entry.msg.properties);
  props.delete(TTL_PROPERTY);
  // not a client's update: an empty UUID, nothing for a passive server to match
  return { key, sequence, uuid: Buffer.alloc(0), properties: props, body: Buffer.alloc(0) };
}
