/**
 * Which client updates were sequenced already, by this server as active or by the active it
 * follows: a client's copy of one of these is never sequenced again, however late it comes.
 */
import type { KvMsg } from './kvmsg.js';
import type { KvStore } from './store.js';
import { UuidRing } from './uuid-ring.js';

/** UUIDs remembered for duplicate detection (ours as active, the active's as passive). */
export const RECENT_UUIDS = 100_000;

export class SequencedUuids {
  /** UUIDs of recently sequenced updates. */
  readonly #recent = new UuidRing(RECENT_UUIDS);
  readonly #store: KvStore;

  constructor(store: KvStore) {
    this.#store = store;
  }

  /** `uuid` was sequenced (by us or by the active we follow). */
  remember(uuid: Buffer): void {
    this.#recent.add(uuid);
  }

  /**
   * Whether a client update with a UUID was sequenced already: its UUID is among the last
   * RECENT_UUIDS sequenced, or it is still its key's current value.
   */
  has(update: KvMsg): boolean {
    const uuid = update.uuid;
    if (uuid.length === 0) return false;
    if (this.#recent.has(uuid)) return true;
    const current = this.#store.get(update.key);
    return current !== undefined && sameBytes(current.uuid, uuid);
  }
}

/** Byte equality of two short buffers, without a call into native code (from the end: a counter's bytes differ first). */
function sameBytes(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return false;
  return true;
}
