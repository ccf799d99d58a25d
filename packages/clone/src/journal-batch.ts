/**
 * Journal batching: what a server writes to its journal is gathered over one event-loop turn and
 * committed in one transaction.
 *
 * An active only hands the sequence out (`stage`): the batch is applied and published after its
 * commit (`commit`), so memory (snapshots, HUGZ) never runs ahead of what is on disk. A passive
 * has applied its peer's updates already (`append`); a failed commit of those leaves the journal
 * behind, and the next write replaces it with the whole map (`commitReplicated`).
 */
import type { KvMsg } from './kvmsg.js';
import type { MapJournal } from './map-journal.js';
import type { KvStore } from './store.js';

/** One batched update; `expiry` marks an active's TTL delete (its deadline is rearmed if not committed). */
export interface BatchedUpdate {
  msg: KvMsg;
  expiry: boolean;
}

export class JournalBatch {
  readonly #store: KvStore;
  readonly #flush: () => void;
  #journal: MapJournal | undefined;
  #items: BatchedUpdate[] = [];
  /** The last sequence handed out; the store's is the last one committed. */
  #staged = 0n;
  #scheduled = false;

  /** `flush` commits the batch the way the server's role does, once per event-loop turn. */
  constructor(store: KvStore, flush: () => void) {
    this.#store = store;
    this.#flush = flush;
  }

  /** With a journal, updates are batched; without one, an active applies and publishes at once. */
  get journal(): MapJournal | undefined {
    return this.#journal;
  }

  /** Write through `journal` from now on (opened at start). */
  open(journal: MapJournal): void {
    this.#journal = journal;
    this.rewind();
  }

  get length(): number {
    return this.#items.length;
  }

  /** Sequences are handed out from the store's again (a new term as active, or a failed commit). */
  rewind(): void {
    this.#staged = this.#store.sequence;
  }

  /** Active: give `update` the next sequence and queue it for the next commit. */
  stage(update: KvMsg, expiry: boolean): void {
    this.#staged += 1n;
    this.#push({ msg: { ...update, sequence: this.#staged, properties: new Map(update.properties) }, expiry });
  }

  /** Passive: queue an update applied already (with the active's sequence). */
  append(msg: KvMsg): void {
    this.#push({ msg, expiry: false });
  }

  /** Forget what is queued (a server that steps down: nothing of it was applied or published). */
  clear(): void {
    this.#items = [];
  }

  /**
   * Active: commit the batch; returns what to apply and publish now, in order. A failed commit
   * returns nothing: those sequence numbers were never seen by anyone, and expiry deadlines come back.
   */
  commit(): BatchedUpdate[] {
    this.#scheduled = false;
    const batch = this.#items;
    if (batch.length === 0) return [];
    this.#items = [];
    const ok = this.#journal?.write(
      batch.map((b) => b.msg),
      this.#staged,
    );
    if (ok === false) {
      this.rewind();
      for (const b of batch) if (b.expiry) this.#store.rearmExpiry(b.msg.key);
      return [];
    }
    return batch;
  }

  /**
   * Passive: commit what was replicated from the active (nothing to publish). The map holds it
   * already: if the commit fails, the journal is behind and the next write replaces it whole.
   */
  commitReplicated(): void {
    this.#scheduled = false;
    const batch = this.#items.map((b) => b.msg);
    this.#items = [];
    if (batch.length > 0 && this.#journal?.write(batch, this.#store.sequence) === false) this.#journal.markBehind();
  }

  /** Passive: a snapshot replaced the map; the journal must follow, whole. */
  replaceAll(): void {
    if (this.#journal === undefined) return;
    this.#items = [];
    this.#journal.markBehind();
    this.#journal.sync();
  }

  /** A flush tick: with nothing queued, let a failing journal try again. */
  retry(): void {
    if (this.#items.length === 0) this.#journal?.retry();
  }

  close(): void {
    this.#journal?.close();
  }

  #push(item: BatchedUpdate): void {
    this.#items.push(item);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }
}
