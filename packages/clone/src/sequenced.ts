/**
 * Which client updates were sequenced already, by this server as active or by the active it
 * follows: a client's copy of one of these is never sequenced again, however late it comes.
 */
import type { KvMsg } from './kvmsg.js';
import { RecentIds } from './recent-ids.js';
import type { KvStore } from './store.js';

/** UUIDs remembered for duplicate detection (ours as active, the active's as passive). */
export const RECENT_UUIDS = 100_000;

export class SequencedUuids {
  /** UUIDs of recently sequenced updates (their bytes as latin1, one character a byte). */
  readonly #recent = new RecentIds<true>(RECENT_UUIDS);
  readonly #store: KvStore;
  /** The UUID `has()` looked at last, and its id: the one `remember()` is usually given next. */
  #lastUuid: Buffer | undefined;
  #lastId = '';

  constructor(store: KvStore) {
    this.#store = store;
  }

  /** `uuid` was sequenced (by us or by the active we follow). */
  remember(uuid: Buffer): void {
    this.#recent.set(this.#id(uuid), true);
  }

  /**
   * Whether a client update with a UUID was sequenced already: its UUID is among the last
   * RECENT_UUIDS sequenced, or it is still its key's current value.
   */
  has(update: KvMsg): boolean {
    const uuid = update.uuid;
    if (uuid.length === 0) return false;
    if (this.#recent.has(this.#id(uuid))) return true;
    const current = this.#store.get(update.key);
    return current !== undefined && sameBytes(current.uuid, uuid);
  }

  #id(uuid: Buffer): string {
    if (uuid !== this.#lastUuid) {
      this.#lastUuid = uuid;
      this.#lastId = uuid.toString('latin1');
    }
    return this.#lastId;
  }
}

/** Byte equality of two short buffers, without a call into native code (from the end: a counter's bytes differ first). */
function sameBytes(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return false;
  return true;
}
