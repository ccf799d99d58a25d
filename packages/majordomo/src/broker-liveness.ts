/**
 * The broker's workers in order of their last message, for expiry without a scan: a doubly linked
 * list threaded through the worker records themselves. A message from a worker moves its record
 * to the tail with a fresh expiry (a few field writes, nothing allocated, no `Map` operation:
 * the broker does it for every message a worker sends); `purge` walks from the head and stops at
 * the first worker still alive, so it costs O(1) per expired worker and never visits live ones.
 */

/** What the list keeps in each record: its expiry and its neighbours. */
export interface LivenessNode<T> {
  /** Clock time (ms) past which the worker is dead: its last message + the list's `ttlMs`. */
  expiresAt: number;
  livePrev: T | undefined;
  liveNext: T | undefined;
  /** Whether the record is in a list. */
  listed: boolean;
}

export class LivenessList<T extends LivenessNode<T>> {
  readonly #ttlMs: number;
  #head: T | undefined;
  #tail: T | undefined;

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  /** A sign of life at `now`: `node` (added if not held) moves to the tail, expiring `ttlMs` later. */
  touch(node: T, now: number): void {
    node.expiresAt = now + this.#ttlMs;
    if (node === this.#tail) return;
    if (node.listed) this.#unlink(node);
    node.listed = true;
    node.livePrev = this.#tail;
    node.liveNext = undefined;
    if (this.#tail === undefined) this.#head = node;
    else this.#tail.liveNext = node;
    this.#tail = node;
  }

  /** Take `node` out of the list; a no-op when it is not held. */
  delete(node: T): void {
    if (node.listed) this.#unlink(node);
  }

  /** Hand every node whose expiry is at or before `now` to `expire`, oldest first, out of the list. */
  purge(now: number, expire: (node: T) => void): void {
    for (let head = this.#head; head !== undefined && head.expiresAt <= now; head = this.#head) {
      this.#unlink(head);
      expire(head);
    }
  }

  /** Forget every node. */
  clear(): void {
    for (let node = this.#head; node !== undefined;) {
      const next = node.liveNext;
      node.listed = false;
      node.livePrev = undefined;
      node.liveNext = undefined;
      node = next;
    }
    this.#head = undefined;
    this.#tail = undefined;
  }

  #unlink(node: T): void {
    const { livePrev: prev, liveNext: next } = node;
    if (prev === undefined) this.#head = next;
    else prev.liveNext = next;
    if (next === undefined) this.#tail = prev;
    else next.livePrev = prev;
    node.livePrev = undefined;
    node.liveNext = undefined;
    node.listed = false;
  }
}
