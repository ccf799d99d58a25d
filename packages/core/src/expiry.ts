/**
 * Peers that all live for the same time after their last sign of life, kept in expiry order.
 *
 * A `Map` iterates in insertion order; deleting and re-inserting an entry on every `touch` keeps
 * the oldest-seen entry at the head, so `purge` walks from the head and stops at the first entry
 * still alive: amortised O(1) per message, never a scan of every peer. (The book's broker kept
 * the order only on READY, not on HEARTBEAT, and so missed expired workers behind live ones.)
 */
import { InvalidArgumentError } from './errors.js';
/**
 * Entries that all live `ttlMs` after their last `touch`, kept in expiry order so `purge(now)`
 * costs O(1) per expired entry and never scans live ones. Times are in the caller's clock
 * (milliseconds). Throws `InvalidArgumentError` for `ttlMs <= 0`.
 */
export class ExpiryList<K, V> {
  readonly #entries = new Map<K, { value: V; expiresAt: number }>();
  readonly #ttlMs: number;

  constructor(ttlMs: number) {
    if (!(ttlMs > 0)) throw new InvalidArgumentError('ExpiryList: ttlMs must be > 0');
    this.#ttlMs = ttlMs;
  }

  /** Entries held, expired ones included until the next `purge`. */
  get size(): number {
    return this.#entries.size;
  }

  /** How long an entry lives after its last `touch`. */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Record a sign of life at `now`: the entry moves to the tail with a fresh expiry. */
  touch(key: K, value: V, now: number): void {
    const entries = this.#entries;
    const existing = entries.get(key);
    if (existing !== undefined) {
      existing.value = value;
      existing.expiresAt = now + this.#ttlMs;
      // Moved to the tail, unless it is the only entry (a heartbeat's one peer, every message).
      if (entries.size > 1) {
        entries.delete(key);
        entries.set(key, existing);
      }
    } else {
      entries.set(key, { value, expiresAt: now + this.#ttlMs });
    }
  }

  /** The value for `key`, or `undefined`; does not refresh its expiry. */
  get(key: K): V | undefined {
    return this.#entries.get(key)?.value;
  }

  /** Whether `key` is held (expired entries count until the next `purge`). */
  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** When `key` expires, in the caller's clock (ms), or `undefined` if it is not held. */
  expiresAt(key: K): number | undefined {
    return this.#entries.get(key)?.expiresAt;
  }

  /** Remove `key`; `true` if it was held. */
  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  /** Remove every entry whose expiry is at or before `now`, calling `onExpired` for each. */
  purge(now: number, onExpired: (key: K, value: V) => void): number {
    let removed = 0;
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt > now) break;
      this.#entries.delete(key);
      removed++;
      onExpired(key, entry.value);
    }
    return removed;
  }

  /** Live entries, least recently seen first. */
  *entries(): IterableIterator<[K, V]> {
    for (const [key, entry] of this.#entries) yield [key, entry.value];
  }

  /** Live values, least recently seen first. */
  *values(): IterableIterator<V> {
    for (const entry of this.#entries.values()) yield entry.value;
  }
}
