/**
 * The one shape of every long-lived zpatterns object (client, worker, queue, broker, server,
 * agent). A subclass supplies two steps, `onStart` and `onClose`; the base class turns them into
 * the public lifecycle, the same for everyone:
 *
 * ```
 *   new X(options) --start()--> starting --onStart resolves--> running
 *        |                         |                              |
 *        |                     onStart fails ------------------+  | close(), or fail(error)
 *        |                                                     v  v
 *        +-------------------------close()-------------------> closing --onClose--> closed
 * ```
 *
 * `start()` and `close()` are idempotent (every caller gets the same promise), `closed()` never
 * rejects, and `status()` is a feed of the object's changes that always ends with one `closed`.
 */
import { AbortError, ClosedError, NotStartedError, TimeoutError, toError } from './errors.js';
import { invalidOption, rules } from './resolve-options.js';
import { StatusFeed } from './status-feed.js';
import type { ClosedEvent, StartedEvent, StatusEvent } from './status-events.js';

/** Where a component is in its life; see {@link Component}. */
export type ComponentState = 'new' | 'starting' | 'running' | 'closing' | 'closed';

/**
 * The events every status feed carries: `started` once `start()` has resolved, and `closed` last,
 * with the error that ended the object when it stopped on its own (or failed to start).
 */
export type ComponentStatus = StartedEvent | ClosedEvent;

/** What `Component.start(options)` needs of the object it creates. */
export interface Startable {
  /** Start the object; resolves once it is ready. */
  start(options?: StartOptions): Promise<void>;
}

/** Options of `start()`. */
export interface StartOptions {
  /** Abandon the start: `start()` rejects with `AbortError` and the object is closed. */
  signal?: AbortSignal | undefined;
  /**
   * Bound on the start: past it `start()` rejects with `TimeoutError` and the object is closed.
   * @default no bound (each class's own start is bounded where it waits on the network)
   */
  timeoutMs?: number | undefined;
}

/** Options of `waitFor()`. */
export interface WaitForOptions<TEvent> {
  /** Stop waiting: `waitFor()` rejects with `AbortError`. */
  signal?: AbortSignal | undefined;
  /** Stop waiting after this long: `waitFor()` rejects with `TimeoutError`. */
  timeoutMs?: number | undefined;
  /** Wait for an event of the type that also passes this test. */
  filter?: ((event: TEvent) => boolean) | undefined;
}

/**
 * Base class of every long-lived object in zpatterns. `new` validates the options and opens
 * nothing; `await x.start()` (or `await X.start(options)`, which does both) opens the sockets and
 * resolves once the object is ready. `close()` ends it, `closed()` says how it ended, and
 * `status()` streams its changes. Calls that need a running object throw `NotStartedError` before
 * `start()` has resolved and `ClosedError` once `close()` has begun.
 *
 * @typeParam TStatus - the object's own status events, beside `started` and `closed`
 */
export abstract class Component<TStatus extends StatusEvent = never> implements AsyncDisposable {
  #state: ComponentState = 'new';
  #starting: Promise<void> | undefined;
  /** Settles once `onStart` has settled (never rejects). */
  #startSettled: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #error: Error | undefined;
  readonly #abort = new AbortController();
  readonly #feed = new StatusFeed<TStatus | ComponentStatus>();
  #last: ComponentStatus | undefined;
  #onEnd: () => void = () => undefined;
  readonly #ended = new Promise<void>((resolve) => {
    this.#onEnd = resolve;
  });

  /**
   * Create and start in one step: `await X.start(options, { signal, timeoutMs })` is
   * `new X(options)` followed by `await x.start({ signal, timeoutMs })`. When the start fails the
   * object is closed and the error is thrown.
   */
  static async start<T extends Startable, O>(
    this: new (options: O) => T,
    ...args: undefined extends O ? [options?: O, start?: StartOptions] : [options: O, start?: StartOptions]
  ): Promise<T> {
    const [options, startOptions] = args;
    const component = new this(options as O);
    await component.start(startOptions);
    return component;
  }

  /** Open sockets and start loops; resolve once ready. `signal` fires when `close()` is called. */
  protected abstract onStart(signal: AbortSignal): Promise<void>;

  /**
   * Stop loops and timers and close sockets. Called once, after `onStart` has settled, on
   * `close()`, on `fail()`, or when `onStart` failed (so it must cope with a partial start). Not
   * called for an object closed before `start()`.
   */
  protected abstract onClose(): Promise<void>;

  /** Where the object is in its life. */
  get lifecycle(): ComponentState {
    return this.#state;
  }

  /** Whether `start()` has resolved and `close()` has not been called. */
  get running(): boolean {
    return this.#state === 'running';
  }

  /**
   * Start the object; resolves once it is ready (each class says what ready means). Idempotent:
   * every call returns the same promise. Rejects with `ClosedError` after `close()`, with
   * `AbortError` when `signal` fires first, and with the start's own error otherwise; in every
   * failing case the object is closed and `closed()` resolves with the reason.
   */
  start(options: StartOptions = {}): Promise<void> {
    if (this.#starting !== undefined) return this.#starting;
    if (this.#state !== 'new') return Promise.reject(new ClosedError(this.#name));
    const { timeoutMs } = options;
    if (timeoutMs !== undefined && !rules.positiveOrInfinity.test(timeoutMs)) {
      return Promise.reject(
        invalidOption(`${this.#name}.start`, 'timeoutMs', rules.positiveOrInfinity.must, timeoutMs),
      );
    }
    this.#state = 'starting';
    this.#starting = this.#runStart(withTimeout(options.signal, options.timeoutMs, this.#name));
    return this.#starting;
  }

  async #runStart(signal: AbortSignal | undefined): Promise<void> {
    const onAbort = (): void => this.#abort.abort(signal?.reason);
    if (signal?.aborted === true) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let failure: Error | undefined;
    let settled: () => void = () => undefined;
    this.#startSettled = new Promise<void>((resolve) => (settled = resolve));
    try {
      if (this.#abort.signal.aborted)
        throw signal === undefined ? new AbortError('start aborted') : startAborted(signal);
      await this.onStart(this.#abort.signal);
    } catch (err) {
      failure = toError(err);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      settled();
    }
    if (this.#state !== 'starting') {
      // close() or fail() was called during the start; it waits for us and then runs onClose.
      throw this.#error ?? new ClosedError(this.#name);
    }
    if (failure === undefined && signal?.aborted === true) failure = startAborted(signal);
    if (failure !== undefined) {
      const reason = signal?.aborted === true ? startAborted(signal) : failure;
      await this.#end(reason).catch(() => undefined);
      throw reason;
    }
    this.#state = 'running';
    this.#feed.emit({ type: 'started' });
  }

  /**
   * Close the object: calls in flight and later calls reject with `ClosedError`. Idempotent:
   * every call returns the same promise, which rejects only if closing itself failed.
   */
  close(): Promise<void> {
    return this.#end(undefined);
  }

  /** Calls `close()`, so `await using` closes the object at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Resolves once the object has closed, and never rejects: with `undefined` after `close()`,
   * with the `Error` that ended it when it stopped on its own or failed to start. Taken before
   * `close()`, it stays pending until the end.
   */
  async closed(): Promise<void | Error> {
    await this.#ended;
    return this.#error;
  }

  /**
   * The object's changes from now on, as an async iterator that tolerates `break`. Each iterator
   * keeps its own bounded backlog (the oldest events go first when it is not read). The last event
   * is always `closed`; an iterator taken after the end yields just that one.
   */
  status(): AsyncIterableIterator<TStatus | ComponentStatus> {
    if (this.#last === undefined) return this.#feed.subscribe();
    const last = this.#last;
    return (async function* () {
      yield last;
    })();
  }

  /**
   * The next status event of `type` (and passing `filter`) emitted from now on. Rejects with
   * `ClosedError` when the object ends first (unless `type` is `'closed'`), with `AbortError` when
   * `signal` fires and with `TimeoutError` after `timeoutMs`. Call it before the action whose
   * event you await: events emitted before the call are not seen.
   */
  async waitFor<K extends (TStatus | ComponentStatus)['type']>(
    type: K,
    options: WaitForOptions<Extract<TStatus | ComponentStatus, { readonly type: K }>> = {},
  ): Promise<Extract<TStatus | ComponentStatus, { readonly type: K }>> {
    type Wanted = Extract<TStatus | ComponentStatus, { readonly type: K }>;
    const signal = withTimeout(options.signal, options.timeoutMs, `waitFor('${type}')`);
    if (signal?.aborted === true) throw waitAborted(signal, type);
    const feed = this.status();
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(waitAborted(signal as AbortSignal, type));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    const found = (async (): Promise<Wanted> => {
      for await (const event of feed) {
        if (event.type === type && (options.filter === undefined || options.filter(event as Wanted))) {
          return event as Wanted;
        }
        if (event.type === 'closed') break;
      }
      throw new ClosedError(this.#name);
    })();
    try {
      return await Promise.race([found, aborted]);
    } finally {
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
      void feed.return?.();
      found.catch(() => undefined);
    }
  }

  /** Publish one of the object's own status events to every `status()` iterator. */
  protected emit(status: TStatus): void {
    if (this.#last === undefined) this.#feed.emit(status);
  }

  /**
   * The object stopped on its own (a loop failed, a reconnect policy gave up): close it with
   * `error` as the reason `closed()` resolves with. A no-op once closing has begun.
   */
  protected fail(error: Error): Promise<void> {
    return this.#end(error);
  }

  /** Throw `NotStartedError` before `start()` has resolved and `ClosedError` once closing has begun. */
  protected assertRunning(): void {
    if (this.#state === 'running') return;
    if (this.#state === 'new' || this.#state === 'starting') throw new NotStartedError(this.#name);
    throw new ClosedError(this.#name);
  }

  /** Aborts when `close()` or `fail()` is called: hand it to loops and waits that must end then. */
  protected get closeSignal(): AbortSignal {
    return this.#abort.signal;
  }

  get #name(): string {
    return this.constructor.name;
  }

  #end(error: Error | undefined): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    const wasNew = this.#state === 'new';
    this.#state = 'closing';
    this.#error = error;
    this.#abort.abort(error ?? new ClosedError(this.#name));
    this.#closing = (async () => {
      let closeError: Error | undefined;
      try {
        if (!wasNew) {
          await this.#startSettled;
          await this.onClose();
        }
      } catch (err) {
        closeError = toError(err);
        this.#error ??= closeError;
      } finally {
        this.#state = 'closed';
        this.#last = this.#error === undefined ? { type: 'closed' } : { type: 'closed', error: this.#error };
        this.#feed.emit(this.#last);
        this.#feed.end();
        this.#onEnd();
      }
      if (closeError !== undefined) throw closeError;
    })();
    return this.#closing;
  }
}

/** `signal`, also aborted with a `TimeoutError` after `timeoutMs` (when given and finite). */
function withTimeout(
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
  what: string,
): AbortSignal | undefined {
  if (timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY) return signal;
  const timeout = AbortSignal.timeout(timeoutMs);
  const marked = new AbortController();
  const onTimeout = (): void => marked.abort(new TimeoutError(`${what} timed out after ${timeoutMs} ms (timeoutMs)`));
  timeout.addEventListener('abort', onTimeout, { once: true });
  return signal === undefined ? marked.signal : AbortSignal.any([signal, marked.signal]);
}

/** The error of a start whose signal fired: the `TimeoutError` of `timeoutMs`, or an `AbortError`. */
function startAborted(signal: AbortSignal): Error {
  return signal.reason instanceof TimeoutError
    ? signal.reason
    : new AbortError('start aborted', { cause: signal.reason });
}

/** The error of a `waitFor` whose signal fired. */
function waitAborted(signal: AbortSignal, type: string): Error {
  return signal.reason instanceof TimeoutError
    ? signal.reason
    : new AbortError(`waitFor('${type}') aborted`, { cause: signal.reason });
}
