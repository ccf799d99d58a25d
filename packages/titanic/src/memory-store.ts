/**
 * The store in memory: `TitanicStore` over a `Map`, lost when the process ends. For tests, and
 * for deployments that want Titanic's API without durability (the book's "faster but less
 * reliable" memory-only mode).
 */
import { Component } from '@zpatterns/core';
import {
  countBatch,
  newStoreStats,
  type PendingRef,
  type StoreCounts,
  type StoredRequest,
  type StoredState,
  type StoreStats,
  type StoreWrite,
  type TitanicStore,
  type TitanicStoreStatus,
} from './store.js';

interface MemoryEntry {
  service: Buffer;
  body: Buffer[];
  reply: Buffer[] | undefined;
  repliedMs: number;
}

/**
 * A store in memory: everything is lost when the process ends. For tests, and for deployments
 * that want Titanic's API without durability (the book's "faster but less reliable" variant).
 * `new MemoryStore()` then `start()` (which `TitanicServer.start()` does); ready at once.
 */
export class MemoryStore extends Component<TitanicStoreStatus> implements TitanicStore {
  readonly #stats: StoreStats = newStoreStats();
  readonly #entries = new Map<string, MemoryEntry>();
  /** Nothing to batch: Titanic writes to memory at once, without a group commit. */
  readonly commitIsFree = true;

  /** Nothing to open. */
  protected async onStart(): Promise<void> {
    // Nothing to open: the entries live in this object.
  }

  /** Drops nothing: the entries go with the object. */
  protected async onClose(): Promise<void> {
    // Nothing to release.
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): StoreStats {
    return { ...this.#stats };
  }

  /** Always true while running: memory does not fail. */
  get healthy(): boolean {
    return this.running;
  }

  /** Applies `batch` in order; "durable" for the life of the process. */
  async write(batch: readonly StoreWrite[]): Promise<void> {
    this.writeNow(batch);
  }

  /** `write`, at once: a commit in memory costs nothing, so Titanic needs no group commit for it. */
  writeNow(batch: readonly StoreWrite[]): void {
    this.assertRunning();
    for (const w of batch) {
      switch (w.type) {
        case 'request':
          if (!this.#entries.has(w.uuid))
            this.#entries.set(w.uuid, { service: w.service, body: [...w.body], reply: undefined, repliedMs: 0 });
          break;
        case 'reply': {
          const entry = this.#entries.get(w.uuid);
          if (entry !== undefined && entry.reply === undefined) {
            entry.reply = [...w.body];
            entry.body = [];
            entry.repliedMs = Date.now();
          }
          break;
        }
        case 'close':
          this.#entries.delete(w.uuid);
          break;
      }
    }
    countBatch(this.#stats, batch);
  }

  /** The state of `uuid`: replied (with the body), pending or unknown. */
  async get(uuid: string): Promise<StoredState> {
    return this.getNow(uuid);
  }

  /** `get`, at once. */
  getNow(uuid: string): StoredState {
    this.assertRunning();
    const entry = this.#entries.get(uuid);
    if (entry === undefined) return { state: 'unknown' };
    return entry.reply === undefined ? { state: 'pending' } : { state: 'replied', body: entry.reply };
  }

  /** The request of a pending `uuid`; `undefined` once replied or closed. */
  async getRequest(uuid: string): Promise<StoredRequest | undefined> {
    this.assertRunning();
    const entry = this.#entries.get(uuid);
    if (entry === undefined || entry.reply !== undefined) return undefined;
    return { uuid, service: entry.service, body: entry.body };
  }

  /** Every request without a reply, oldest first. */
  async *pending(): AsyncIterable<PendingRef> {
    this.assertRunning();
    for (const [uuid, entry] of [...this.#entries]) {
      if (entry.reply === undefined) yield { uuid, service: entry.service };
    }
  }

  /** How many stored requests are pending and how many replied (not yet closed). */
  async counts(): Promise<StoreCounts> {
    this.assertRunning();
    let pending = 0;
    for (const entry of this.#entries.values()) if (entry.reply === undefined) pending++;
    return { pending, replied: this.#entries.size - pending };
  }

  /** Deletes the replies recorded before `repliedBeforeMs`; resolves with how many. */
  async expireReplies(repliedBeforeMs: number): Promise<number> {
    this.assertRunning();
    let deleted = 0;
    for (const [uuid, entry] of this.#entries) {
      if (entry.reply !== undefined && entry.repliedMs < repliedBeforeMs) {
        this.#entries.delete(uuid);
        deleted++;
      }
    }
    return deleted;
  }
}
