/**
 * The dispatcher's view of one target service: a small circuit breaker, so that a service with no
 * worker (or a dead one) costs one probe per backoff step instead of a flood of requests that the
 * broker would queue and later deliver as duplicates.
 *
 *   (new) = backoff(until: -inf, failures: 0)
 *   healthy ──failure──> backoff(until) ──time passes, take()──> probing ──success──> healthy
 *      ^                     ^                                      │
 *      └──── success ────────┴───────────── failure (attempt+1) ────┘
 *
 * A service seen for the first time (or again after it had no work) starts with a probe: when it
 * has no worker, the `mmi.service` check finds out in one round trip instead of a dispatch timeout
 * per request in flight.
 *
 * - healthy: any number of requests in flight (bounded by the dispatcher's concurrency).
 * - backoff: nothing is sent until `until`.
 * - probing: exactly one request (the probe) in flight; the dispatcher checks `mmi.service` first.
 * Any success, even of a request sent before the failure, proves the service works: healthy.
 */
import { type Logger, type RetryDelay } from '@zpatterns/core';
import { componentLogger, persistentRetryDelay } from '@zpatterns/core/internal';

export type CircuitState =
  | { readonly state: 'healthy' }
  | { readonly state: 'backoff'; readonly failures: number; readonly until: number }
  | { readonly state: 'probing'; readonly failures: number; readonly probe: string };

/** The answers of `admits` (shared, never changed). */
const SEND: { readonly probe: boolean } = Object.freeze({ probe: false });
const PROBE: { readonly probe: boolean } = Object.freeze({ probe: true });

export class ServiceCircuit {
  readonly service: string;
  #state: CircuitState = { state: 'backoff', failures: 0, until: Number.NEGATIVE_INFINITY };
  readonly #delay: RetryDelay;
  readonly #log: Logger;

  constructor(service: string, delay: RetryDelay, logger?: Logger) {
    this.service = service;
    this.#delay = delay;
    this.#log = componentLogger(logger, { component: 'service-circuit', service });
  }

  get current(): CircuitState {
    return this.#state;
  }

  /** May a request be sent now? `probe` is true when it would be the single probe. */
  admits(now: number): { readonly probe: boolean } | undefined {
    const s = this.#state;
    switch (s.state) {
      case 'healthy':
        return SEND;
      case 'backoff':
        return now >= s.until ? PROBE : undefined;
      case 'probing':
        return undefined;
    }
  }

  /** When `admits` may change from no to yes: `until` in backoff, never while probing. */
  openAt(): number | undefined {
    const s = this.#state;
    return s.state === 'backoff' ? s.until : s.state === 'healthy' ? Number.NEGATIVE_INFINITY : undefined;
  }

  /** The request `uuid` is sent as the probe (only valid when `admits` said probe). */
  probing(uuid: string): void {
    const s = this.#state;
    if (s.state !== 'backoff') return;
    this.#transition({ state: 'probing', failures: s.failures, probe: uuid });
  }

  succeeded(): void {
    if (this.#state.state !== 'healthy') this.#transition({ state: 'healthy' });
  }

  /**
   * A request to this service failed (timeout, no worker). While healthy this opens the circuit;
   * while probing only the probe's failure counts; in backoff nothing changes.
   */
  failed(uuid: string, now: number): void {
    const s = this.#state;
    let failures: number;
    switch (s.state) {
      case 'healthy':
        failures = 1;
        break;
      case 'probing':
        if (s.probe !== uuid) return;
        failures = s.failures + 1;
        break;
      case 'backoff':
        return;
    }
    // A policy that gives up (null) keeps retrying at its last step: Titanic never drops a request.
    const delayMs = persistentRetryDelay(this.#delay, failures, 1000);
    this.#transition({ state: 'backoff', failures, until: now + delayMs });
  }

  /** The probe was abandoned without an answer either way (e.g. shutdown): allow a new probe. */
  released(uuid: string): void {
    const s = this.#state;
    if (s.state === 'probing' && s.probe === uuid)
      this.#transition({ state: 'backoff', failures: s.failures, until: 0 });
  }

  #transition(next: CircuitState): void {
    const from = this.#state.state;
    this.#state = next;
    this.#log.debug(
      { from, to: next.state, ...(next.state === 'backoff' ? { failures: next.failures } : {}) },
      'state',
    );
  }
}
