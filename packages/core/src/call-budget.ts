/**
 * The one call budget of every client that resends: the whole-call deadline (`timeoutMs`), the
 * wait of one attempt (`attemptTimeoutMs`), the resends allowed (`retries`) and the caller's
 * signal, in one object that also makes the error the call ends with.
 *
 * ```ts
 * using budget = new CallBudget('request to echo', { ...defaults, ...options }, clock);
 * while (budget.next()) {
 *   send();
 *   const outcome = await budget.race(reply);
 *   if (outcome.ok) return outcome.value;
 *   // this attempt's wait ran out: resend
 * }
 * throw budget.error();
 * ```
 */
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { AbortError, TimeoutError, toError } from './errors.js';
import type { RequestOptions } from './request.js';
import { invalidOption, rules, type OptionRule } from './resolve-options.js';

/** What one attempt's `race` gave: the reply, or that the attempt's wait ran out. */
export type AttemptOutcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false };

const infinity: OptionRule = rules.positiveOrInfinity;

/** `value`, or `fallback` when it is undefined, once `rule` holds for it. */
function checked(
  what: string | (() => string),
  key: string,
  value: number | undefined,
  fallback: number,
  rule: OptionRule,
): number {
  if (value === undefined) return fallback;
  if (!rule.test(value)) throw invalidOption(typeof what === 'string' ? what : what(), key, rule.must, value);
  return value;
}

/**
 * A call's budget of time and sends. `next()` starts an attempt while one is left; `race()` waits
 * for a reply within the attempt and rejects with the call's final error once the whole budget is
 * spent or the caller aborts; `error()` is the error to end with when `next()` says no.
 * Dispose it (`using`, or `dispose()`) to clear its timers.
 */
export class CallBudget implements Disposable {
  /** The call's name, or what makes it (only an error needs it). */
  #what: string | (() => string);
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #attemptTimeoutMs: number;
  readonly #retries: number;
  readonly #signal: AbortSignal | undefined;
  readonly #startedAt: number;
  /** Made on first use: a call with no `timeoutMs` and no signal that never reads `signal` needs none. */
  #controller: AbortController | undefined;
  #timer: TimerHandle | undefined;
  #attempts = 0;
  #expired = false;
  #onAbort: (() => void) | undefined;

  /**
   * @param what - the call, for messages: `request to echo timed out after 2500 ms (timeoutMs)`; or
   *   a function that makes it, called only when a message needs it (a budget is made per call)
   * @param options - the call's options, merged over the object's defaults by the caller
   * @param clock - time source @default systemClock
   * @throws InvalidArgumentError for a bad `timeoutMs`, `attemptTimeoutMs` or `retries`
   */
  constructor(what: string | (() => string), options: RequestOptions, clock: Clock = systemClock) {
    // Three tests, not resolveOptions(): a budget is made per call, often with options a client
    // has just checked against its own (stricter) rules.
    const timeoutMs = checked(what, 'timeoutMs', options.timeoutMs, Number.POSITIVE_INFINITY, infinity);
    const attemptTimeoutMs = checked(
      what,
      'attemptTimeoutMs',
      options.attemptTimeoutMs,
      Number.POSITIVE_INFINITY,
      infinity,
    );
    const retries = checked(what, 'retries', options.retries, 0, rules.nonNegativeIntegerOrInfinity);
    this.#what = what;
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
    this.#attemptTimeoutMs = attemptTimeoutMs;
    this.#retries = retries;
    this.#signal = options.signal;
    // Without a whole-call timeout, the time left is Infinity whenever it started: no clock read.
    this.#startedAt = Number.isFinite(timeoutMs) ? clock.now() : 0;
    if (Number.isFinite(this.#timeoutMs)) {
      this.#timer = clock.setTimeout(() => {
        this.#expired = true;
        this.#abort();
      }, this.#timeoutMs);
    }
  }

  /** Sends started so far, the first included. */
  get attempts(): number {
    return this.#attempts;
  }

  /** Milliseconds left of the whole call (Infinity without `timeoutMs`). */
  get remainingMs(): number {
    return Math.max(0, this.#timeoutMs - (this.#clock.now() - this.#startedAt));
  }

  /**
   * Aborts when the call must end: the whole budget is spent or the caller aborted. Its reason is
   * the error the call ends with. Hand it to whatever the call waits on.
   */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      // Made, and tied to the caller's signal, on first use: a call that hands its waits the
      // caller's signal itself (no timeoutMs) never pays for a controller or a listener.
      this.#controller = new AbortController();
      const caller = this.#signal;
      if (caller?.aborted === true) this.#abort();
      else if (caller !== undefined) {
        this.#onAbort = () => this.#abort();
        caller.addEventListener('abort', this.#onAbort, { once: true });
      }
    }
    return this.#controller.signal;
  }

  #abort(): void {
    this.#controller ??= new AbortController();
    if (!this.#controller.signal.aborted) this.#controller.abort(this.error());
  }

  /** Start the next attempt, if one is left: no abort, time remaining, and a send left under `retries`. */
  next(): boolean {
    if (this.#controller?.signal.aborted === true || this.#signal?.aborted === true || this.#attempts > this.#retries)
      return false;
    this.#attempts++;
    return true;
  }

  /**
   * Wait for `reply` within this attempt: `{ ok: true, value }` when it comes, `{ ok: false }` when
   * the attempt's wait (`attemptTimeoutMs`, or what is left of the call) runs out first. Rejects
   * with the call's error when the whole budget is spent or the caller aborts, and with `reply`'s
   * own error when it rejects.
   */
  race<T>(reply: Promise<T>): Promise<AttemptOutcome<T>> {
    const signal = this.signal;
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<AttemptOutcome<T>>((resolve, reject) => {
      const remainingMs = this.remainingMs;
      // When what is left of the call is shorter than an attempt, this wait ends the call.
      const endsCall = Number.isFinite(this.#timeoutMs) && remainingMs <= this.#attemptTimeoutMs;
      const waitMs = Math.min(this.#attemptTimeoutMs, remainingMs);
      const timer = Number.isFinite(waitMs)
        ? this.#clock.setTimeout(() => {
            cleanup();
            if (endsCall) {
              this.#expired = true;
              reject(this.error());
            } else resolve({ ok: false });
          }, waitMs)
        : undefined;
      const onAbort = (): void => {
        cleanup();
        reject(signal.reason as Error);
      };
      const cleanup = (): void => {
        if (timer !== undefined) this.#clock.clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      reply.then(
        (value) => {
          cleanup();
          resolve({ ok: true, value });
        },
        (err: unknown) => {
          cleanup();
          reject(toError(err));
        },
      );
    });
  }

  /**
   * The error the call ends with now: `AbortError` when the caller aborted; otherwise a
   * `TimeoutError` with `attempts`, saying whether the whole call's time or its resends ran out.
   */
  error(): Error {
    if (typeof this.#what !== 'string') this.#what = this.#what();
    if (this.#signal?.aborted === true) {
      return new AbortError(`${this.#what} aborted`, { cause: this.#signal.reason });
    }
    if (this.#expired || (Number.isFinite(this.#timeoutMs) && this.remainingMs <= 0)) {
      return new TimeoutError(`${this.#what} timed out after ${this.#timeoutMs} ms (timeoutMs)`, {
        attempts: this.#attempts,
      });
    }
    const each = Number.isFinite(this.#attemptTimeoutMs) ? ` of ${this.#attemptTimeoutMs} ms` : '';
    return new TimeoutError(
      `${this.#what}: no reply after ${this.#attempts} attempts${each} (retries: ${this.#retries})`,
      { attempts: this.#attempts },
    );
  }

  /** Clear the timers and listeners. Idempotent. */
  dispose(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#onAbort = undefined;
  }

  /** Calls `dispose()`, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
