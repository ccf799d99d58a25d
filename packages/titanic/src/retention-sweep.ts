/**
 * The retention limit: replies no client has closed are deleted `replyRetentionMs` after they were
 * recorded, so that replies whose UUID a client lost do not pile up. One timer, every tenth of the
 * retention (1 s .. 1 h); a failed sweep is logged and tried again at the next one.
 */
import { toError, type Clock, type Logger, type TimerHandle } from '@zpatterns/core';
import type { TitanicStore } from './store.js';

/** Options of `new RetentionSweep(store, options)`. */
export interface RetentionSweepOptions {
  /** Replies older than this are deleted; 0 keeps them until `titanic.close`. */
  readonly retentionMs: number;
  readonly clock: Clock;
  readonly log: Logger;
}

/** Sweeps expired replies out of the store on a timer until `stop()`. */
export class RetentionSweep {
  readonly #store: TitanicStore;
  readonly #o: RetentionSweepOptions;
  #timer: TimerHandle | undefined;
  #stopped = false;
  /** Replies deleted so far. */
  expired = 0;

  constructor(store: TitanicStore, options: RetentionSweepOptions) {
    this.#store = store;
    this.#o = options;
  }

  /** The first sweep after `delayMs`, then one every tenth of the retention. */
  start(delayMs: number): void {
    this.#schedule(delayMs);
  }

  /** No sweep after this one (a sweep under way finishes). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(delayMs: number): void {
    const retention = this.#o.retentionMs;
    if (retention <= 0 || this.#stopped) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#sweep(retention).finally(() =>
        this.#schedule(Math.min(3_600_000, Math.max(1000, Math.floor(retention / 10)))),
      );
    }, delayMs);
  }

  async #sweep(retention: number): Promise<void> {
    // Wall time: the store records its replies' times by the wall clock.
    const started = Date.now();
    try {
      const expired = await this.#store.expireReplies(started - retention);
      this.expired += expired;
      if (expired > 0) {
        const durationMs = Date.now() - started;
        this.#o.log.info({ expired, durationMs, replyRetentionMs: retention }, 'unclosed replies expired');
      }
    } catch (err) {
      this.#o.log.error({ err: toError(err) }, 'retention sweep failed');
    }
  }
}
