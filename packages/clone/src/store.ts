/**
 * The server's key-value map: one sequence per applied update, deletes on empty body, and TTL
 * expiry driven by a binary heap of deadlines (no scan of the whole map). Pure state, no sockets:
 * the server feeds it KVSETs and publishes what it returns.
 */
import { MinHeap } from '@zpatterns/core/internal';
import type { KvMsg } from './kvmsg.js';
import { inSubtree, TTL_PROPERTY, ttlSeconds } from './kvmsg.js';

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

/** A stored entry: the kvmsg as last published, and its absolute expiry (0 = none). */
export interface StoredEntry {
  msg: KvMsg;
  expiresAtMs: number;
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
   * Sequence a client update and apply it. Returns the kvmsg to publish: the new sequence, the
   * client's uuid, key, body and properties, with `ttl` still in seconds as CHP publishes it.
   */
  apply(update: KvMsg, nowMs: number): KvMsg {
    this.#sequence += 1n;
    const published: KvMsg = { ...update, sequence: this.#sequence, properties: new Map(update.properties) };
    this.#store(published, nowMs);
    return published;
  }

  /** Apply an update that already carries its sequence (the passive replaying the active's KVPUB). */
  applySequenced(update: KvMsg, nowMs: number): void {
    if (update.sequence > this.#sequence) this.#sequence = update.sequence;
    this.#store(update, nowMs);
  }

  #store(msg: KvMsg, nowMs: number): void {
    if (msg.body.length === 0) {
      this.#map.delete(msg.key);
      return;
    }
    const remaining = ttlRemainingMs(msg.properties);
    this.#put(msg, remaining > 0 ? nowMs + remaining : 0);
  }

  #put(msg: KvMsg, expiresAtMs: number): void {
    const entry: StoredEntry = { msg, expiresAtMs };
    this.#map.set(msg.key, entry);
    if (expiresAtMs > 0) this.#expiry.push(expiresAtMs, { key: msg.key, entry });
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
      if (entry.expiresAtMs === 0) {
        yield entry.msg;
        continue;
      }
      const props = new Map(entry.msg.properties);
      props.set(TTL_PROPERTY, String(Math.max(1, Math.ceil((entry.expiresAtMs - nowMs) / 1000))));
      yield { ...entry.msg, properties: props };
    }
  }
}

/** The delete that expires `entry`: the entry's properties without `ttl`, an empty UUID and body. */
function expiryDelete(key: string, entry: StoredEntry, sequence: bigint): KvMsg {
  const props = new Map(entry.msg.properties);
  props.delete(TTL_PROPERTY);
  // not a client's update: an empty UUID, nothing for a passive server to match
  return { key, sequence, uuid: Buffer.alloc(0), properties: props, body: Buffer.alloc(0) };
}
