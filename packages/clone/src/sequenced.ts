/**
 * Which client updates were sequenced already, by this server as active or by the active it
 * follows: a client's copy of one of these is never sequenced again, however late it comes.
 */
import type { KvMsg } from './kvmsg.js';
import type { KvStore } from './store.js';

/** UUIDs remembered for duplicate detection (ours as active, the active's as passive). */
export const RECENT_UUIDS = 100_000;

export class SequencedUuids {
  /** UUIDs (hex) of recently sequenced updates, oldest first. */
  readonly #recent = new Set<string>();
  readonly #store: KvStore;

  constructor(store: KvStore) {
    this.#store = store;
  }

  /** `uuid` was sequenced (by us or by the active we follow). */
  remember(uuid: Buffer): void {
    const id = uuid.toString('hex');
    this.#recent.delete(id);
    this.#recent.add(id);
    if (this.#recent.size > RECENT_UUIDS) {
      const oldest = this.#recent.values().next();
      if (oldest.done !== true) this.#recent.delete(oldest.value);
    }
  }

  /**
   * Whether a client update with a UUID was sequenced already: its UUID is among the last
   * RECENT_UUIDS sequenced, or it is still its key's current value.
   */
  has(update: KvMsg): boolean {
    if (update.uuid.length === 0) return false;
    if (this.#recent.has(update.uuid.toString('hex'))) return true;
    const current = this.#store.get(update.key);
    return current !== undefined && current.uuid.equals(update.uuid);
  }
}
