/**
 * The active role: sequence client updates, commit them (with a journal), publish them, expire
 * TTL keys and send HUGZ. In a pair it also keeps its term (the last update to each key it
 * sequenced), which it hands over if it loses a split brain.
 */
import { encodeHugz, encodeKvMsg, type KvMsg } from './kvmsg.js';
import type { ServerContext, ServerRole } from './server-role.js';

export class ActiveRole implements ServerRole {
  readonly name = 'active';
  readonly #ctx: ServerContext;
  /** True while a split brain is being decided (or lost): nothing is sequenced. */
  readonly #frozen: () => boolean;
  /**
   * The last update to each key this server sequenced in its current term as active, all of them
   * (a key whose TTL ran out leaves it): what it hands over if it loses a split brain.
   */
  readonly #term = new Map<string, KvMsg>();

  constructor(ctx: ServerContext, frozen: () => boolean = () => false) {
    this.#ctx = ctx;
    this.#frozen = frozen;
    ctx.batch.rewind();
  }

  /** What this term sequenced, for a hand-over. */
  get term(): KvMsg[] {
    return [...this.#term.values()];
  }

  /** How many keys this term changed. */
  get termSize(): number {
    return this.#term.size;
  }

  update(update: KvMsg): void {
    if (this.#frozen()) {
      this.#ctx.pending.hold(update); // replayed if this server stays active
      return;
    }
    this.#ctx.stats.updates += 1;
    this.#sequence(update, false);
  }

  /**
   * Client updates held (as passive, or frozen by a split brain) that no active sequenced:
   * sequence and publish them now, in order. Returns how many.
   */
  replay(): number {
    const ctx = this.#ctx;
    let replayed = 0;
    for (const msg of ctx.pending.takeAll()) {
      if (ctx.sequenced.has(msg)) {
        ctx.stats.duplicates += 1; // the old active sequenced it: never again
        continue;
      }
      replayed += 1;
      ctx.stats.replayed += 1;
      this.#sequence(msg, false);
    }
    return replayed;
  }

  /** Commit the batch, then apply and publish it. A failed commit applies nothing: unhealthy. */
  flush(): void {
    const ctx = this.#ctx;
    const now = ctx.clock.now();
    for (const { msg, expiry } of ctx.batch.commit()) {
      const frames = encodeKvMsg(msg);
      ctx.store.applySequenced(msg, now, frames);
      this.#sequenced(msg, expiry);
      ctx.publish(frames);
    }
  }

  /** Delete the keys whose TTL ran out, as sequenced updates. */
  tick(): void {
    if (this.#frozen()) return; // nothing is sequenced until a split brain is decided
    const ctx = this.#ctx;
    const now = ctx.clock.now();
    if (ctx.batch.journal === undefined) {
      for (const msg of ctx.store.expire(now)) {
        ctx.stats.expired += 1;
        this.#term.delete(msg.key);
        ctx.publish(encodeKvMsg(msg));
      }
      return;
    }
    for (const msg of ctx.store.dueForExpiry(now)) {
      ctx.stats.expired += 1;
      this.#sequence(msg, true);
    }
  }

  heartbeat(): void {
    this.#ctx.publish(encodeHugz(this.#ctx.store.sequence));
  }

  async leave(): Promise<void> {
    this.flush();
  }

  /**
   * Sequence a client update (or an expiry delete) and publish it. Without a journal it is applied
   * and published at once. With one it is only given its sequence and batched (journal-batch.ts).
   */
  #sequence(update: KvMsg, expiry: boolean): void {
    const ctx = this.#ctx;
    if (ctx.batch.journal !== undefined) {
      ctx.batch.stage(update, expiry);
      return;
    }
    // the frames published are kept with the entry: a snapshot sends them as they are
    // the clock is read only for a key with a TTL (the store needs no time for the others)
    const now = update.properties.size === 0 ? 0 : ctx.clock.now();
    const { msg, frames } = ctx.store.sequenceEntry(update, now);
    this.#sequenced(msg, false);
    ctx.publish(frames ?? encodeKvMsg(msg));
  }

  /** `msg` is applied with its sequence; remember it for duplicates and a split brain. */
  #sequenced(msg: KvMsg, expiry: boolean): void {
    if (expiry) this.#term.delete(msg.key); // gone here; the winner of a split brain expires its own
    if (msg.uuid.length === 0) return; // expiry deletes and the book's clients' anonymous updates
    this.#ctx.sequenced.remember(msg.uuid);
    if (!this.#ctx.paired) return;
    this.#term.delete(msg.key);
    this.#term.set(msg.key, msg);
  }
}
