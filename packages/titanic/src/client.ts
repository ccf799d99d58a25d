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
  CallBudget,
  ClosedError,
  Component,
  exponentialBackoff,
  invalidOption,
  resolveOptions,
  sleep,
  type Frame,
  type RequestOptions,
} from '@zpatterns/core';
import { failSpan, SpanKinds, startSpan, type TraceSpan } from '@zpatterns/core/internal';
import { MajordomoClient } from '@zpatterns/majordomo';
import {
  titanicClientDefaults,
  titanicClientRules,
  type PollResult,
  type ResolvedClientOptions,
  type TitanicClientOptions,
  type TitanicClientStats,
  type TitanicClientStatus,
  type WaitReplyOptions,
} from './client-options.js';
import {
  TitanicBadReplyError,
  TitanicRejectedError,
  TitanicServerError,
  TitanicUnknownRequestError,
} from './errors.js';
import { decodeSubmitted, decodeTspReply, encodeSubmit, encodeUuidRequest, parseUuid, TSP_SERVICE } from './codec.js';

/**
 * A client of a Titanic server (9/TSP) over a `MajordomoClient`: `submit()` stores a request
 * durably and resolves with its UUID, `poll()` and `waitReply()` fetch the reply (also after a
 * restart of either side), `closeRequest(uuid)` tells Titanic to forget it, and `call()` does the
 * three. Each TSP call has Lazy Pirate retries (`retries` resends after the first, each attempt
 * waiting `attemptTimeoutMs`); `timeoutMs` bounds a whole call. Rejects with
 * `TitanicRejectedError`, `TitanicUnknownRequestError`, `TitanicServerError` or
 * `TitanicBadReplyError` as the server answers, `TimeoutError` (out of attempts, or past
 * `timeoutMs`; its `attempts` says how many sends were made), `AbortError`, `InvalidArgumentError`
 * for a UUID that is not one, `NotStartedError` before `start()` and `ClosedError` after `close()`.
 *
 * `new TitanicClient({ broker })` validates the options and opens nothing; `start()` makes it
 * ready to take calls (the MDP client opens a socket per call in flight on demand), and
 * `close()` ends it. `await TitanicClient.start({ broker })` does new and start.
 */
export class TitanicClient extends Component<TitanicClientStatus> {
  readonly #mdp: MajordomoClient;
  readonly #o: ResolvedClientOptions;
  readonly #counters = { submitted: 0, polls: 0, replies: 0, closes: 0, timeouts: 0 };
  #lastAnswer = 0;
  /** Whether Titanic answers: unknown until the first answer or the first request out of attempts. */
  #link: 'unknown' | 'up' | 'down' = 'unknown';

  constructor(options: TitanicClientOptions) {
    super();
    this.#o = resolveOptions('TitanicClient', options, titanicClientDefaults, titanicClientRules);
    // The whole-call bound is applied here, per TSP call or per `waitReply`/`call`; MajordomoClient
    // checks the rest.
    const { pollIntervalMs: _first, maxPollIntervalMs: _max, timeoutMs: _whole, ...mdp } = options;
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
  async #request(service: string, body: readonly Frame[], options: RequestOptions): Promise<Buffer[]> {
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
    if (this.#link === 'up') return;
    this.#link = 'up';
    this.emit({ type: 'connected', peer: this.#server() });
  }

  #unanswered(): void {
    this.#counters.timeouts++;
    if (this.#link === 'down') return;
    this.#link = 'down';
    this.emit({
      type: 'disconnected',
      peer: this.#server(),
      reason: 'silent',
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
    options: RequestOptions = {},
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

  async #submit(service: string | Buffer, body: Frame | readonly Frame[], options: RequestOptions): Promise<string> {
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
  async poll(uuid: string, options: RequestOptions = {}): Promise<PollResult> {
    const id = checkUuid(uuid);
    return this.#traced(TSP_SERVICE.REPLY, { 'titanic.uuid': id }, async (span) => {
      const result = await this.#poll(id, options);
      span?.setAttribute('titanic.status', result.status);
      return result;
    });
  }

  async #poll(id: string, options: RequestOptions): Promise<PollResult> {
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
   * UUID, `TimeoutError` after `timeoutMs` (`attempts`: the polls sent), `AbortError` on `signal`.
   * Polls that run out of attempts (Titanic or the broker restarting) are retried until `timeoutMs`.
   */
  async waitReply(uuid: string, options: WaitReplyOptions = {}): Promise<Buffer[]> {
    const id = checkUuid(uuid);
    this.assertRunning();
    return this.#bounded(options, `waitReply(${id})`, (budget, signal) => this.#waitLoop(id, options, budget, signal));
  }

  async #waitLoop(id: string, options: WaitReplyOptions, budget: CallBudget, signal: AbortSignal): Promise<Buffer[]> {
    const initialMs = options.pollIntervalMs ?? this.#o.pollIntervalMs;
    const delay = exponentialBackoff({
      initialMs,
      maxMs: Math.max(initialMs, options.maxPollIntervalMs ?? this.#o.maxPollIntervalMs),
    });
    const call = { attemptTimeoutMs: options.attemptTimeoutMs, retries: options.retries, signal };
    for (let attempt = 1; budget.next(); attempt++) {
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
    throw budget.error();
  }

  /**
   * Run `body` under one `CallBudget`: the whole-call bound of `options` (else the client's
   * `timeoutMs`) and its `signal`. `body` counts its TSP requests on the budget (`next()`) and gets
   * a signal that fires when the budget ends the call or the client closes.
   */
  async #bounded<T>(
    options: RequestOptions,
    what: string,
    body: (budget: CallBudget, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.#o.timeoutMs;
    using budget = new CallBudget(
      what,
      { timeoutMs, retries: Number.POSITIVE_INFINITY, signal: options.signal },
      this.#o.clock,
    );
    // One combined signal (no listener per call on the shared close signal).
    const signal = AbortSignal.any([budget.signal, this.closeSignal]);
    try {
      if (budget.signal.aborted) throw budget.signal.reason as Error;
      return await body(budget, signal);
    } catch (err) {
      // The budget's end (TimeoutError with attempts, AbortError) is the call's.
      if (budget.signal.aborted) throw budget.signal.reason as Error;
      // The client closed under the call: say so, not "aborted".
      if (this.closeSignal.aborted) throw new ClosedError('TitanicClient');
      throw err;
    }
  }

  /** Tell Titanic to forget the request and its reply (`titanic.close`). Idempotent. */
  async closeRequest(uuid: string, options: RequestOptions = {}): Promise<void> {
    const id = checkUuid(uuid);
    return this.#traced(TSP_SERVICE.CLOSE, { 'titanic.uuid': id }, () => this.#closeRequest(id, options));
  }

  async #closeRequest(id: string, options: RequestOptions): Promise<void> {
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
    return this.#bounded(options, `call(${String(service)})`, async (budget, signal) => {
      const step = { attemptTimeoutMs: options.attemptTimeoutMs, retries: options.retries, signal };
      if (!budget.next()) throw budget.error();
      const uuid = await this.submit(service, body, { ...step, timeoutMs: Number.POSITIVE_INFINITY });
      const reply = await this.#waitLoop(uuid, options, budget, signal);
      if (!budget.next()) throw budget.error();
      await this.closeRequest(uuid, { ...step, timeoutMs: Number.POSITIVE_INFINITY });
      return reply;
    });
  }
}

/** The UUID in its canonical form; `InvalidArgumentError` when it is not one. */
function checkUuid(uuid: string): string {
  const id = parseUuid(uuid);
  if (id === undefined) {
    const shown: unknown = typeof uuid === 'string' ? uuid.slice(0, 64) : uuid;
    throw invalidOption('TitanicClient', 'uuid', '32 hexadecimal characters', shown);
  }
  return id;
}
