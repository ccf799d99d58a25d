/**
 * The client updates a server holds while it does not sequence them itself (passive, deciding, or
 * frozen by a split brain), until the active publishes them (the book's model six) or this server
 * replays them on becoming (or staying) active.
 *
 * A client's update and the active's publication of it are matched by UUID, or, for an update
 * without one (the book's clients send none), by key and value, copy for copy.
 */
import { createHash } from 'node:crypto';
import type { Clock, Logger } from '@zpatterns/core';
import type { KvMsg } from './kvmsg.js';
import { RecentIds } from './recent-ids.js';
import { RECENT_UUIDS } from './sequenced.js';
import type { CloneServerStats } from './server-status.js';

interface Pending {
  msg: KvMsg;
  at: number;
  /** Identical updates without a UUID held under one id. */
  copies: number;
}

/** How a client's update is matched with the active's publication of it. */
function pendingId(msg: KvMsg): string {
  if (msg.uuid.length > 0) return msg.uuid.toString('hex');
  return `anonymous:${createHash('sha1').update(msg.key).update('\0').update(msg.body).digest('hex')}`;
}

/** Passive: how long between two warnings of a full pending list. */
const REFUSED_LOG_INTERVAL_MS = 10_000;

export class PendingUpdates {
  /** Client updates not yet seen from the active, oldest first, by id. */
  readonly #pending = new Map<string, Pending>();
  /**
   * The active's anonymous updates whose client copy has not arrived yet, by key and value:
   * bounded by count (the last RECENT_UUIDS seen), never by age.
   */
  readonly #seenFromActive = new RecentIds<{ copies: number }>(RECENT_UUIDS);
  readonly #max: number;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #stats: CloneServerStats;
  #refusedLoggedAt = -Infinity;

  constructor(max: number, clock: Clock, log: Logger, stats: CloneServerStats) {
    this.#max = max;
    this.#clock = clock;
    this.#log = log;
    this.#stats = stats;
  }

  get size(): number {
    return this.#pending.size;
  }

  /**
   * Hold a client update (the caller has checked it was never sequenced), unless the active's copy
   * came first, or the list is full (refused).
   */
  hold(update: KvMsg): void {
    const id = pendingId(update);
    if (this.#consumeSeen(id)) return; // the active's copy came first
    if (this.#pending.size >= this.#max) {
      this.#stats.refused += 1;
      const now = this.#clock.now();
      if (now - this.#refusedLoggedAt > REFUSED_LOG_INTERVAL_MS) {
        this.#refusedLoggedAt = now;
        this.#log.warn(
          { pending: this.#pending.size, refused: this.#stats.refused },
          'pending list full: client update refused',
        );
      }
      return;
    }
    const same = this.#pending.get(id);
    if (same !== undefined) same.copies += 1;
    else this.#pending.set(id, { msg: update, at: this.#clock.now(), copies: 1 });
  }

  /** The active published `msg`: its client copy, held or still to come, is done with. */
  published(msg: KvMsg): void {
    const id = pendingId(msg);
    const pending = this.#pending.get(id);
    if (pending !== undefined) {
      if (--pending.copies === 0) this.#pending.delete(id);
      return;
    }
    if (msg.uuid.length > 0) return; // a late client copy is checked against the sequenced UUIDs
    // An anonymous update (the book's clients) can only be matched by key and value, copy for copy.
    const seen = this.#seenFromActive.get(id);
    if (seen !== undefined) seen.copies += 1;
    else this.#seenFromActive.set(id, { copies: 1 });
  }

  /** The active is alive (a HUGZ): what it has not published within `ttlMs`, it never will. */
  prune(ttlMs: number): void {
    const horizon = this.#clock.now() - ttlMs;
    for (const [id, p] of this.#pending) {
      if (p.at > horizon) break;
      this.#pending.delete(id);
      this.#stats.pendingExpired += 1;
    }
  }

  /**
   * A snapshot replaced the map: every update held so far came before it, and whether the active
   * sequenced it (and maybe overwrote it since) the snapshot cannot tell, as it carries only each
   * key's last write. Replaying such an update could bring back a replaced value: none is kept.
   */
  dropAll(): void {
    this.#stats.pendingDropped += this.#pending.size;
    this.#pending.clear();
  }

  /** Everything held, oldest first, for a replay; the list is empty afterwards. */
  takeAll(): KvMsg[] {
    const msgs = [...this.#pending.values()].map((p) => p.msg);
    this.#pending.clear();
    this.#seenFromActive.clear();
    return msgs;
  }

  /** One of the active's anonymous updates matches `id`: true if it was recorded as seen. */
  #consumeSeen(id: string): boolean {
    const seen = this.#seenFromActive.get(id);
    if (seen === undefined) return false;
    if (--seen.copies === 0) this.#seenFromActive.delete(id);
    return true;
  }
}
