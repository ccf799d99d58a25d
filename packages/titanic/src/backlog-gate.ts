/**
 * The backlog bounds of `titanic.request`: a submission is refused ("500") while the requests
 * stored and not yet answered reach `maxBacklog`, or those of its service `maxPendingPerService`.
 *
 * A submission that passes reserves its room before the commit's await, so that concurrent
 * submissions cannot overshoot a bound together; the reservation ends when the request is counted
 * in the backlog (or its commit fails).
 *
 *   reserve(service) ──undefined──> refused "500"        (a bound is reached)
 *          │
 *          └── Reservation ── commit ── release() ── dispatcher.add()   (no await between the two)
 *
 * A store that commits at once needs no reservation: `admits(service)`, then the commit and
 * `dispatcher.add()` in the same turn.
 */
import type { DrainedEvent, Logger, SaturatedEvent } from '@zpatterns/core';

/** The counts the bounds apply to: the dispatcher's backlog, whole and per service. */
export interface BacklogCounts {
  /** Requests stored and not yet answered. */
  readonly backlog: number;
  /** Requests of a service (its name as latin1) stored and not yet answered. */
  pendingOf(key: string): number;
}

/** The gate's changes of state: refusals began at `maxBacklog`, and submissions pass again. */
export type BacklogEvent = SaturatedEvent | DrainedEvent;

/** Room held for one submission until its request is counted in the backlog. */
export interface Reservation {
  /** End the reservation (once; after the commit, whether it succeeded or not). */
  release(): void;
}

/** Options of `new BacklogGate(counts, options)`. */
export interface BacklogGateOptions {
  readonly maxBacklog: number;
  readonly maxPendingPerService: number;
  readonly log: Logger;
  /** Told when refusals at `maxBacklog` begin and end. */
  readonly onChange: (event: BacklogEvent) => void;
}

/** Admits submissions under the two backlog bounds, counting the ones whose commit is under way. */
export class BacklogGate {
  readonly #counts: BacklogCounts;
  readonly #o: BacklogGateOptions;
  #full = false;
  /** Submissions that passed and wait for their commit, in all and by service (latin1). */
  #reserved = 0;
  readonly #reservedOf = new Map<string, number>();

  constructor(counts: BacklogCounts, options: BacklogGateOptions) {
    this.#counts = counts;
    this.#o = options;
  }

  /**
   * Whether a submission to the service `key` (its name as latin1) may be stored now, for a
   * submission counted in the backlog within the same turn (a store that commits at once): no
   * reservation is needed then.
   */
  admits(key: string): boolean {
    return this.#passes(key, this.#reserved === 0 ? 0 : (this.#reservedOf.get(key) ?? 0));
  }

  /**
   * Room for one submission to the service `key` (its name as latin1) until its commit is done, or
   * `undefined` when a bound refuses it.
   */
  reserve(key: string): Reservation | undefined {
    const reservedOf = this.#reservedOf.get(key) ?? 0;
    if (!this.#passes(key, reservedOf)) return undefined;
    this.#reserved++;
    this.#reservedOf.set(key, reservedOf + 1);
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.#reserved--;
        const left = (this.#reservedOf.get(key) ?? 1) - 1;
        if (left === 0) this.#reservedOf.delete(key);
        else this.#reservedOf.set(key, left);
      },
    };
  }

  /** The two bounds, counting the submissions reserved (`reservedOf` of this service). */
  #passes(key: string, reservedOf: number): boolean {
    const { maxBacklog, maxPendingPerService, log } = this.#o;
    const backlog = this.#counts.backlog + this.#reserved;
    if (backlog >= maxBacklog) {
      log.debug({ maxBacklog }, 'backlog full, submission refused with 500');
      if (!this.#full) {
        this.#full = true;
        log.warn({ backlog, maxBacklog }, 'backlog full: submissions refused with 500');
        this.#o.onChange({ type: 'saturated', queued: backlog, limit: maxBacklog });
      }
      return false;
    }
    if (this.#full) {
      this.#full = false;
      this.#o.onChange({ type: 'drained', queued: backlog });
    }
    if (this.#counts.pendingOf(key) + reservedOf >= maxPendingPerService) {
      log.debug(
        { service: Buffer.from(key, 'latin1').toString('utf8'), maxPendingPerService },
        "service's pending bound reached, submission refused with 500",
      );
      return false;
    }
    return true;
  }
}
