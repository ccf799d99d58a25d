/**
 * The ordering rules of a replica, without sockets or time: where a replica stands in the server's
 * sequence, and what each message from the update stream means for it.
 *
 * ```
 *   update  seq <= held              -> stale (dropped)
 *           seq == held + 1          -> apply                       (following everything)
 *           seq >  held + 1          -> resync 'gap'
 *   HUGZ    seq == 0                 -> alive, says nothing about the position
 *           seq <  held              -> resync 'restart'            (the server lost its map)
 *           seq >  held              -> resync 'hugz'               (following everything: the tail was missed)
 *   first message after a snapshot taken before the stream was live:
 *           seq <= held or held + 1  -> the stream joins the snapshot
 *           later                    -> resync 'gap' (an update) or 'hugz' (a HUGZ)
 * ```
 *
 * A replica that follows only some subtrees cannot see every sequence number, so for it a jump is
 * normal; it still detects a restart (HUGZ below what it holds).
 */
import type { KvMsg } from './kvmsg.js';
import { inSubtree } from './kvmsg.js';

/** Why a replica takes a new snapshot from the server it follows. */
export type ResyncReason = 'gap' | 'hugz' | 'restart';

/** What one stream message means for the replica; see {@link ReplicaCursor.next}. */
export type CursorVerdict =
  | { readonly kind: 'apply' }
  | { readonly kind: 'stale' }
  | { readonly kind: 'ignore' }
  | { readonly kind: 'hugz' }
  | { readonly kind: 'resync'; readonly reason: ResyncReason; readonly held: bigint; readonly seen: bigint };

// The verdicts without data, made once: one is returned per stream message.
const APPLY: CursorVerdict = { kind: 'apply' };
const STALE: CursorVerdict = { kind: 'stale' };
const IGNORE: CursorVerdict = { kind: 'ignore' };
const HUGZ_SEEN: CursorVerdict = { kind: 'hugz' };

/** A replica's position in the server's sequence and the rules that move it. */
export class ReplicaCursor {
  /** Whether the replica follows every key (the `''` subtree), and so sees every sequence number. */
  readonly followsAll: boolean;
  readonly #subtrees: readonly string[];
  #sequence = -1n;
  /** The snapshot is not yet known to be joined seamlessly by the stream. */
  #unproven = false;

  constructor(subtrees: readonly string[]) {
    this.#subtrees = subtrees;
    this.followsAll = subtrees.includes('');
  }

  /** The highest sequence applied (-1 before the first snapshot). */
  get sequence(): bigint {
    return this.#sequence;
  }

  /**
   * A snapshot ending at `sequence` was applied. `streamWasLive`: the subscription had delivered a
   * message before the snapshot was asked for, so nothing published after it can have been missed.
   */
  snapshot(sequence: bigint, streamWasLive: boolean): void {
    this.#sequence = sequence;
    this.#unproven = !streamWasLive;
  }

  /** What `msg`, the next message of the stream, means; an `apply` moves the position to it. */
  next(msg: KvMsg): CursorVerdict {
    const isHugz = msg.key === 'HUGZ';
    // A subtree follower subscribes to the prefix HUGZ, which also matches keys such as HUGZ/x.
    if (!isHugz && !this.followsAll && !this.#subtrees.some((s) => inSubtree(msg.key, s))) return IGNORE;
    if (this.#unproven && msg.sequence !== 0n) {
      // Anything published at or before the snapshot's point, or the very next update, shows the
      // subscription was live in time: the stream joins the snapshot. A later one may not.
      if (msg.sequence <= this.#sequence || (!isHugz && msg.sequence === this.#sequence + 1n)) this.#unproven = false;
      else return this.#resync(isHugz ? 'hugz' : 'gap', msg.sequence);
    }
    if (isHugz) {
      // 12/CHP's text sends HUGZ with sequence 0 (the book's code sends its current one): 0 says
      // nothing about the server's position, so only a non-zero HUGZ is checked.
      if (msg.sequence === 0n) return HUGZ_SEEN;
      if (msg.sequence < this.#sequence) return this.#resync('restart', msg.sequence);
      if (this.followsAll && msg.sequence > this.#sequence) return this.#resync('hugz', msg.sequence);
      return HUGZ_SEEN;
    }
    if (msg.sequence <= this.#sequence) return STALE;
    if (this.followsAll && msg.sequence !== this.#sequence + 1n) return this.#resync('gap', msg.sequence);
    this.#sequence = msg.sequence;
    return APPLY;
  }

  #resync(reason: ResyncReason, seen: bigint): CursorVerdict {
    return { kind: 'resync', reason, held: this.#sequence, seen };
  }
}
