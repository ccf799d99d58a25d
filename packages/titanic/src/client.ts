/**
 * `TitanicClient`: the API the book says Titanic users need, so applications do not hand-roll the
 * polling loop of `ticlient`. It speaks 9/TSP over a `MajordomoClient` (MDP/0.1, Lazy Pirate
 * retries on each call).
 *
 *   const titanic = await TitanicClient.start({ broker });
 *   const uuid = await titanic.submit('echo', ['Hello']);   // durable once this resolves
 *   ... the client may go away and come back with the uuid ...
 *   const reply = await titanic.waitReply(uuid, { timeoutMs: 60_000 });
 *   await titanic.closeRequest(uuid);                         // Titanic forgets it
 *   await titanic.close();                                    // the client itself
 *
 * Keep the UUID somewhere safe between `submit` and `closeRequest` (a local database): it is the
 * only handle on the request.
 */
import {
  ClosedError,
  Component,
  deadline,
  exponentialBackoff,
  InvalidArgumentError,
  sleep,
  throwIfAborted,
  type Frame,
  definedOnly,
  type ServerDeadStatus,
  type ServerAliveStatus,
} from '@zpatterns/core';
import { failSpan, SpanKinds, startSpan, type TraceSpan } from '@zpatterns/core/internal';
import {
  MajordomoClient,
  majordomoClientDefaults,
  type ClientStats,
  type MajordomoClientOptions,
} from '@zpatterns/majordomo';
import {
  TitanicBadReplyError,
  TitanicInvalidUuidError,
  TitanicRejectedError,
  TitanicServerError,
  TitanicUnknownRequestError,
} from './errors.js';
import {
  decodeSubmitted,
  decodeTspReply,
  encodeSubmit,
  encodeUuidRequest,
  parseUuid,
  TSP_SERVICE,
} from './protocol.js';

/**
 * Every `MajordomoClient` option (the TSP calls go through one), plus the polling pace of
 * `waitReply`. 9/TSP is defined over MDP/0.1, the default `version`. `timeoutMs`, when set, is the
 * default bound of every call of the client (`submit`, `poll`, `waitReply`, `closeRequest`,
 * `call`), each as a whole; `attemptTimeoutMs` and `retries` govern each MDP request.
 */
export interface TitanicClientOptions extends MajordomoClientOptions {
  /** First delay between `titanic.reply` polls in `waitReply`. @default 100 */
  pollIntervalMs?: number;
  /** Largest delay between polls (the book's ticlient waits 5 s). @default 5000 */
  maxPollIntervalMs?: number;
}

/**
 * The client's defaults: those of `MajordomoClient` for each TSP call (2500 ms per attempt, 3
 * resends, no whole-call bound), and `waitReply()` polling every 100 ms at first, backing off to 5 s.
 */
export const titanicClientDefaults = {
  ...majordomoClientDefaults,
  pollIntervalMs: 100,
  maxPollIntervalMs: 5000,
} as const;

/** Per-call options of `submit()`, `poll()` and `closeRequest()`. */
export interface TitanicCallOptions {
  /**
   * Bound of the whole call (every attempt and pause): past it the call rejects with an error of
   * code `ERR_TIMEOUT`. @default the client's `timeoutMs` (none: bounded by the attempts)
   */
  timeoutMs?: number | undefined;
  /** Wait for one reply before resending (an MDP attempt). @default the client's `attemptTimeoutMs` */
  attemptTimeoutMs?: number | undefined;
  /** Resends after the first attempt. @default the client's `retries` */
  retries?: number | undefined;
  /** Abandon the call: it rejects with `AbortError` (its `cause` the signal's reason). */
  signal?: AbortSignal | undefined;
}

/** What `poll()` found. */
export type PollResult = { status: 'ok'; body: Buffer[] } | { status: 'pending' } | { status: 'unknown' };

/** Options of `waitReply(uuid, options)` and `call(service, body, options)`. */
export interface WaitReplyOptions extends TitanicCallOptions {
  /**
   * Bound of the whole wait (every poll and pause; for `call()` the submission and the close too):
   * past it the call rejects with `TimeoutError`. The request stays stored; wait again later.
   * @default the client's `timeoutMs` (none: wait for ever)
   */
  timeoutMs?: number | undefined;
  /** Stop waiting: rejects with `AbortError`. The request stays stored; poll again later. */
  signal?: AbortSignal | undefined;
  /** First delay between polls. @default the client's `pollIntervalMs` */
  pollIntervalMs?: number | undefined;
  /** Largest delay between polls. @default the client's `maxPollIntervalMs` */
  maxPollIntervalMs?: number | undefined;
}

/**
 * The client's status events (beside `started` and `closed`): `server-dead` when a TSP call ran out
 * of attempts with no answer (Titanic or its broker is down; `waitReply` keeps polling), then
 * `server-alive` at the next answer (`server` is the broker's endpoint); `failover` when, with
 * several `brokers`, the MDP client moves to the next one.
 */
export type TitanicClientStatus =
  | ServerDeadStatus
  | ServerAliveStatus
  | {
      readonly type: 'failover';
      /** The broker an attempt timed out on. */
      readonly from: string;
      /** The broker requests go to now. */
      readonly to: string;
    };

/** Counters of a `TitanicClient`; `client.stats` is a snapshot. */
export interface TitanicClientStats {
  /** Requests Titanic acknowledged as stored (`submit` resolved with a UUID). */
  submitted: number;
  /** `titanic.reply` calls answered (`poll`, also the polls of `waitReply`). */
  polls: number;
  /** Replies received (`poll` found the reply). */
  replies: number;
  /** `titanic.close` calls answered. */
  closes: number;
  /** TSP calls that ran out of attempts without an answer. */
  unanswered: number;
  /** The underlying MDP client's counters (requests, resends, timeouts, sockets). */
  mdp: ClientStats;
}

type ResolvedOptions = Omit<TitanicClientOptions, 'pollIntervalMs' | 'maxPollIntervalMs' | 'clock'> & {
  pollIntervalMs: number;
  maxPollIntervalMs: number;
  clock: NonNullable<TitanicClientOptions['clock']>;
};

/**
 * A client of a Titanic server (9/TSP) over a `MajordomoClient`: `submit()` stores a request
 * durably and resolves with its UUID, `poll()` and `waitReply()` fetch the reply (also after a
 * restart of either side), `closeRequest(uuid)` tells Titanic to forget it, and `call()` does the
 * three. Each TSP call has Lazy Pirate retries (`retries` resends after the first, each attempt
 * waiting `attemptTimeoutMs`); `timeoutMs` bounds a whole call. Rejects with
 * `TitanicRejectedError`, `TitanicUnknownRequestError`, `TitanicServerError` or
 * `TitanicBadReplyError` as the server answers, `MajordomoTimeoutError` (out of attempts) or
 * `TimeoutError` (past `timeoutMs`), `AbortError`, `NotStartedError` before `start()` and
 * `ClosedError` after `close()`.
 *
 * `new TitanicClient({ broker })` validates the options and opens nothing; `start()` makes it
 * ready to take calls (the MDP client opens a socket per call in flight on demand), and
 * `close()` ends it. `await TitanicClient.start({ broker })` does new and start.
 */
export class TitanicClient extends Component<TitanicClientStatus> {
  readonly #mdp: MajordomoClient;
  readonly #o: ResolvedOptions;
  readonly #counters = { submitted: 0, polls: 0, replies: 0, closes: 0, unanswered: 0 };
  #lastAnswer = 0;
  #dead = false;

  constructor(options: TitanicClientOptions) {
    super();
    this.#o = { ...titanicClientDefaults, ...definedOnly(options) };
    // The whole-call bound is applied here, per TSP call or per `waitReply`/`call`.
    const { pollIntervalMs, maxPollIntervalMs, timeoutMs: _whole, ...mdp } = this.#o;
    for (const [key, value] of [
      ['pollIntervalMs', pollIntervalMs],
      ['maxPollIntervalMs', maxPollIntervalMs],
    ] as const) {
      if (!(typeof value === 'number' && value > 0))
        throw new InvalidArgumentError(`${key}: expected a number > 0, got ${String(value)}`);
    }
    this.#mdp = new MajordomoClient(mdp);
  }

  /** Starts the MDP client: ready to take calls. */
  protected async onStart(): Promise<void> {
    await this.#mdp.start();
    this.#lastAnswer = this.#o.clock.now();
    void this.#relay();
  }

  /** Closes the MDP client: calls in flight reject with `ClosedError`. */
  protected async onClose(): Promise<void> {
    await this.#mdp.close();
  }

  async #relay(): Promise<void> {
    for await (const event of this.#mdp.status()) {
      if (event.type === 'failover') this.emit(event);
    }
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): TitanicClientStats {
    return { ...this.#counters, mdp: this.#mdp.stats };
  }

  /** One MDP request, bounded by `options.timeoutMs` (else the client's) as a whole. */
  async #request(service: string, body: readonly Frame[], options: TitanicCallOptions): Promise<Buffer[]> {
    this.assertRunning();
    const { attemptTimeoutMs, retries, signal } = options;
    const whole = options.timeoutMs ?? this.#o.timeoutMs;
    // Infinity: a step of waitReply() or call(), bounded by that call as a whole.
    const timeoutMs = whole === Number.POSITIVE_INFINITY ? undefined : whole;
    try {
      const reply = await this.#mdp.request(service, body, { timeoutMs, attemptTimeoutMs, retries, signal });
      this.#answered();
      return reply;
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_TIMEOUT' && !(signal?.aborted ?? false)) this.#unanswered();
      throw err;
    }
  }

  #answered(): void {
    this.#lastAnswer = this.#o.clock.now();
    if (!this.#dead) return;
    this.#dead = false;
    this.emit({ type: 'server-alive', server: this.#server() });
  }

  #unanswered(): void {
    this.#counters.unanswered++;
    if (this.#dead) return;
    this.#dead = true;
    this.emit({
      type: 'server-dead',
      server: this.#server(),
      silentMs: Math.max(0, Math.round(this.#o.clock.now() - this.#lastAnswer)),
    });
  }

  #server(): string {
    return this.#mdp.broker ?? this.#o.broker ?? this.#o.brokers?.[0] ?? '';
  }

  /**
   * Hand a request to Titanic (`titanic.request`). Resolves with its UUID once Titanic has stored
   * it durably. If this rejects with a timeout the request may or may not be stored: submitting
   * again is safe for idempotent services (the first copy, if stored, also runs).
   */
  async submit(
    service: string | Buffer,
    body: Frame | readonly Frame[] = [],
    options: TitanicCallOptions = {},
  ): Promise<string> {
    const name = typeof service === 'string' ? service : service.toString('latin1');
    return this.#traced(TSP_SERVICE.REQUEST, { 'rpc.service': name }, async (span) => {
      const uuid = await this.#submit(service, body, options);
      span?.setAttribute('titanic.uuid', uuid);
      return uuid;
    });
  }

  /**
   * Run one TSP call in a CLIENT span named after its TSP service, when OpenTelemetry is installed;
   * a failure ends the span with status ERROR.
   */
  async #traced<T>(
    method: string,
    attributes: Record<string, string>,
    run: (span: TraceSpan | undefined) => Promise<T>,
  ): Promise<T> {
    const span = startSpan('@zpatterns/titanic', method, SpanKinds.client, {
      'rpc.system': 'titanic',
      'rpc.method': method,
      ...attributes,
    });
    if (span === undefined) return run(undefined);
    try {
      const result = await run(span);
      span.end();
      return result;
    } catch (err) {
      failSpan(span, err);
      throw err;
    }
  }

  async #submit(
    service: string | Buffer,
    body: Frame | readonly Frame[],
    options: TitanicCallOptions,
  ): Promise<string> {
    const frames = Array.isArray(body) ? (body as readonly Frame[]) : [body as Frame];
    const reply = await this.#request(TSP_SERVICE.REQUEST, encodeSubmit(service, frames), options);
    const uuid = decodeSubmitted(reply);
    if (typeof uuid === 'string') {
      this.#counters.submitted++;
      return uuid;
    }
    if (uuid.status === '500') throw new TitanicServerError('titanic could not store the request (500)');
    if (uuid.status === '400') throw new TitanicRejectedError('titanic rejected the request as malformed (400)');
    throw new TitanicBadReplyError(`titanic.request: ${uuid.error}`);
  }

  /** Ask once for the reply (`titanic.reply`). Never consumes it: poll as often as you like. */
  async poll(uuid: string, options: TitanicCallOptions = {}): Promise<PollResult> {
    const id = checkUuid(uuid);
    return this.#traced(TSP_SERVICE.REPLY, { 'titanic.uuid': id }, async (span) => {
      const result = await this.#poll(id, options);
      span?.setAttribute('titanic.status', result.status);
      return result;
    });
  }

  async #poll(id: string, options: TitanicCallOptions): Promise<PollResult> {
    const reply = decodeTspReply(await this.#request(TSP_SERVICE.REPLY, encodeUuidRequest(id), options));
    if (typeof reply === 'string') throw new TitanicBadReplyError(`titanic.reply: ${reply}`);
    this.#counters.polls++;
    switch (reply.status) {
      case '200':
        this.#counters.replies++;
        return { status: 'ok', body: reply.body };
      case '300':
        return { status: 'pending' };
      case '400':
        return { status: 'unknown' };
      case '500':
        throw new TitanicServerError();
    }
  }

  /**
   * Poll until the reply is there, with growing pauses (`pollIntervalMs` doubling up to
   * `maxPollIntervalMs`). Rejects with `TitanicUnknownRequestError` if Titanic does not know the
   * UUID, `TimeoutError` after `timeoutMs`, `AbortError` on `signal`. Polls that run out of
   * attempts (Titanic or the broker restarting) are retried until `timeoutMs`.
   */
  async waitReply(uuid: string, options: WaitReplyOptions = {}): Promise<Buffer[]> {
    const id = checkUuid(uuid);
    this.assertRunning();
    return this.#bounded(options, `no reply for ${id}`, (signal) => this.#waitLoop(id, options, signal));
  }

  async #waitLoop(id: string, options: WaitReplyOptions, signal: AbortSignal): Promise<Buffer[]> {
    const initialMs = options.pollIntervalMs ?? this.#o.pollIntervalMs;
    const delay = exponentialBackoff({
      initialMs,
      maxMs: Math.max(initialMs, options.maxPollIntervalMs ?? this.#o.maxPollIntervalMs),
    });
    const call = { attemptTimeoutMs: options.attemptTimeoutMs, retries: options.retries, signal };
    for (let attempt = 1; ; attempt++) {
      let result: PollResult | undefined;
      try {
        result = await this.poll(id, { ...call, timeoutMs: Number.POSITIVE_INFINITY });
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'ERR_TIMEOUT') throw err;
      }
      if (result?.status === 'ok') return result.body;
      if (result?.status === 'unknown') throw new TitanicUnknownRequestError(id);
      await sleep(delay(attempt) ?? 1000, { clock: this.#o.clock, signal });
    }
  }

  /**
   * Run `body` under the whole-call bound of `options` (else the client's `timeoutMs`) and its
   * `signal`: `body` gets a signal that fires when either ends the call.
   */
  async #bounded<T>(options: TitanicCallOptions, what: string, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const { signal } = options;
    throwIfAborted(signal);
    const timeoutMs = options.timeoutMs ?? this.#o.timeoutMs ?? Number.POSITIVE_INFINITY;
    const stop = new AbortController();
    // One combined signal (no listener per call on the shared close signal).
    const inner = AbortSignal.any(
      signal === undefined ? [stop.signal, this.closeSignal] : [stop.signal, this.closeSignal, signal],
    );
    try {
      return await deadline(body(inner), {
        timeoutMs,
        signal,
        clock: this.#o.clock,
        timeoutMessage: `${what} within ${timeoutMs} ms (timeoutMs)`,
      });
    } catch (err) {
      // The client closed under the call: say so, not "aborted".
      if (this.closeSignal.aborted && !(signal?.aborted ?? false)) throw new ClosedError('TitanicClient');
      throw err;
    } finally {
      stop.abort();
    }
  }

  /** Tell Titanic to forget the request and its reply (`titanic.close`). Idempotent. */
  async closeRequest(uuid: string, options: TitanicCallOptions = {}): Promise<void> {
    const id = checkUuid(uuid);
    return this.#traced(TSP_SERVICE.CLOSE, { 'titanic.uuid': id }, () => this.#closeRequest(id, options));
  }

  async #closeRequest(id: string, options: TitanicCallOptions): Promise<void> {
    const reply = decodeTspReply(await this.#request(TSP_SERVICE.CLOSE, encodeUuidRequest(id), options));
    if (typeof reply === 'string') throw new TitanicBadReplyError(`titanic.close: ${reply}`);
    if (reply.status === '500') throw new TitanicServerError();
    if (reply.status !== '200') throw new TitanicBadReplyError(`titanic.close answered ${reply.status}`);
    this.#counters.closes++;
  }

  /**
   * The whole ticlient flow: submit, wait for the reply, close the request. Resolves with the
   * reply body. `timeoutMs` bounds the three steps together (`TimeoutError`); past it the request
   * may be stored and not closed (the retention limit of the server removes it in the end).
   */
  async call(
    service: string | Buffer,
    body: Frame | readonly Frame[],
    options: WaitReplyOptions = {},
  ): Promise<Buffer[]> {
    this.assertRunning();
    return this.#bounded(options, `no reply from ${String(service)}`, async (signal) => {
      const step = { attemptTimeoutMs: options.attemptTimeoutMs, retries: options.retries, signal };
      const uuid = await this.submit(service, body, { ...step, timeoutMs: Number.POSITIVE_INFINITY });
      const reply = await this.#waitLoop(uuid, options, signal);
      await this.closeRequest(uuid, { ...step, timeoutMs: Number.POSITIVE_INFINITY });
      return reply;
    });
  }
}

function checkUuid(uuid: string): string {
  const id = parseUuid(uuid);
  if (id === undefined) throw new TitanicInvalidUuidError(uuid);
  return id;
}
