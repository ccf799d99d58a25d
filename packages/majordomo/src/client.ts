/**
 * The Majordomo client (the book's mdcliapi, made concurrent): `request()` sends one request to a
 * service through the broker and resolves with the reply body, with Lazy Pirate reliability:
 * after `attemptTimeoutMs` of silence the socket is closed and the request resent on a fresh one,
 * up to `retries` times, then `MajordomoTimeoutError`; `timeoutMs` bounds the whole call.
 *
 *   request('echo', body)         client DEALER (one per outstanding request)      broker
 *        |  acquire socket  ------>  ["", "MDPC01", "echo", body...]  ------------->  |
 *        |                  <------  ["", "MDPC01", "echo", reply...] <-------------  |
 *        |  attempt timeout: close socket (linger 0), acquire a fresh one, resend, ...
 *
 * Concurrent calls are safe: each outstanding request owns one socket from a bounded pool, so
 * every reply is matched to its request without a request id on the wire.
 */
import {
  AbortError,
  Component,
  componentLogger,
  ProtocolError,
  sleep,
  TimeoutError,
  frame,
  throwIfAborted,
  toBuffer,
  type Frame,
  type Logger,
  type TimerHandle,
} from '@zpatterns/core';
import { failSpan, SpanKinds, startSpan, type TraceSpan } from '@zpatterns/core/internal';
import { AttemptTimeout, newClientStats, type ClientStats } from './client-connection.js';
import {
  resolveClientOptions,
  checkCount,
  checkPositive,
  type MajordomoClientOptions,
  type RequestOptions,
  type ResolvedClientOptions,
} from './client-options.js';
import { ClientPool } from './client-pool.js';
import { InboundGuard } from './inbound-limits.js';
import { MajordomoTimeoutError } from './errors.js';
import { decodeMmiServicesBody, MMI, type MmiServiceEntry } from './codec.js';

/** Status codes of `mmi.service` (8/MMI). */
export type MmiServiceStatus = '200' | '404' | '501' | (string & {});

/**
 * The client's status events, from `client.status()` (beside `started` and `closed`). Nothing is
 * reported per request (see `stats`); with several `brokers`, a move to the next one is.
 */
export type MajordomoClientStatus = {
  readonly type: 'failover';
  /** The broker an attempt timed out on. */
  readonly from: string;
  /** The broker new requests go to now. */
  readonly to: string;
};

/**
 * The Majordomo client (the book's mdcliapi, made concurrent): `request(service, body)` resolves
 * with the reply body. After `attemptTimeoutMs` without a reply the socket is closed and the
 * request resent on a fresh one, up to `retries` resends, then it rejects with
 * `MajordomoTimeoutError`; `timeoutMs` (when set) bounds the whole call. Concurrent calls are
 * safe: each outstanding request owns a socket from a bounded pool.
 *
 * `new MajordomoClient({ broker })` checks the options (throws `MajordomoOptionsError`) and opens
 * nothing; `start()` makes it ready to take requests (sockets are opened on demand, one per
 * request in flight, and kept for reuse). Calls before `start()` reject with `NotStartedError`,
 * after `close()` with `ClosedError`.
 */
export class MajordomoClient extends Component<MajordomoClientStatus> {
  readonly #stats: ClientStats = newClientStats();
  readonly #o: ResolvedClientOptions;
  readonly #log: Logger;
  readonly #pool: ClientPool;

  constructor(options: MajordomoClientOptions) {
    super();
    this.#o = resolveClientOptions(options);
    this.#log = componentLogger(this.#o.logger, { component: 'mdp-client', broker: this.#o.broker });
    this.#pool = new ClientPool({
      endpoint: this.#o.broker,
      version: this.#o.version,
      maxSockets: this.#o.maxSockets,
      maxIdleSockets: this.#o.maxIdleSockets,
      log: this.#log,
      stats: this.#stats,
      guard: new InboundGuard(this.#o, this.#log, this.#o.clock),
      security: this.#o.security,
    });
  }

  /** Nothing to open up front: the pool opens a socket per request in flight. */
  protected async onStart(): Promise<void> {
    this.#log.debug('started');
  }

  /** Close every socket at once (linger 0); requests in flight reject with `ClosedError`. */
  protected async onClose(): Promise<void> {
    await this.#pool.close();
    this.#log.debug('closed');
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): ClientStats {
    return { ...this.#stats };
  }

  /** The resolved options (defaults applied). */
  get options(): Readonly<ResolvedClientOptions> {
    return this.#o;
  }

  /** Sockets open now, and callers waiting for one (beyond `maxSockets`). */
  get sockets(): { open: number; idle: number; waiting: number } {
    return { open: this.#pool.size, idle: this.#pool.idle, waiting: this.#pool.waiting };
  }

  /**
   * Send `body` to `service` and resolve with the reply body (the FINAL one on MDP/0.2). Rejects
   * with `MajordomoTimeoutError` (code `ERR_TIMEOUT`) after `1 + retries` silent attempts or once
   * `timeoutMs` has passed, `AbortError` when `signal` fires, `NotStartedError` before `start()`,
   * `ClosedError` when the client is closed.
   */
  async request(
    service: string | Buffer,
    body: Frame | readonly Frame[],
    options: RequestOptions = {},
  ): Promise<Buffer[]> {
    this.assertRunning();
    // With OpenTelemetry installed: one CLIENT span per call, an event per attempt, the outcome.
    const name = typeof service === 'string' ? service : service.toString('latin1');
    const span = startSpan('@zpatterns/majordomo', name, SpanKinds.client, {
      'rpc.system': 'majordomo',
      'rpc.service': name,
    });
    if (span === undefined) return this.#request(service, body, options, undefined);
    try {
      const reply = await this.#request(service, body, options, span);
      span.end();
      return reply;
    } catch (err) {
      failSpan(span, err);
      throw err;
    }
  }

  async #request(
    service: string | Buffer,
    body: Frame | readonly Frame[],
    options: RequestOptions,
    span: TraceSpan | undefined,
  ): Promise<Buffer[]> {
    const { onPartial } = options;
    throwIfAborted(options.signal);
    const attemptTimeoutMs = options.attemptTimeoutMs ?? this.#o.attemptTimeoutMs;
    const timeoutMs = options.timeoutMs ?? this.#o.timeoutMs;
    const retries = options.retries ?? this.#o.retries;
    checkPositive('attemptTimeoutMs', attemptTimeoutMs);
    if (timeoutMs !== undefined) checkPositive('timeoutMs', timeoutMs);
    checkCount('retries', retries, 0);
    const serviceFrame = toBuffer(service);
    const frames = (Array.isArray(body) ? (body as readonly Frame[]) : [body as Frame]).map(toBuffer);
    if (frames.length === 0) frames.push(Buffer.alloc(0));
    this.#stats.requests++;
    // One signal for the call: the caller's, and the whole-call bound when there is one.
    const bound = timeoutMs === undefined ? undefined : new CallBound(options.signal, timeoutMs, this.#o.clock);
    const signal = bound === undefined ? options.signal : bound.signal;
    const attempts = 1 + retries;
    let attempt = 0;
    try {
      for (;;) {
        attempt++;
        const connection = await this.#pool.acquire(signal);
        span?.addEvent('attempt', { 'majordomo.attempt': attempt, 'server.address': connection.endpoint });
        span?.setAttribute('majordomo.attempts', attempt);
        try {
          const reply = await connection.exchange(serviceFrame, frames, {
            timeoutMs: attemptTimeoutMs,
            signal,
            onPartial,
            clock: this.#o.clock,
          });
          this.#pool.release(connection);
          this.#stats.replies++;
          return reply;
        } catch (err) {
          this.#pool.discard(connection);
          if (!(err instanceof AttemptTimeout)) throw err;
          if (attempt >= attempts || err.partials > 0) {
            this.#stats.timeouts++;
            this.#log.warn(
              { service: serviceFrame.toString('latin1'), attempts: attempt, attemptTimeoutMs },
              'no reply, abandoning',
            );
            throw new MajordomoTimeoutError(
              serviceFrame.toString('utf8'),
              attempt,
              { attemptTimeoutMs },
              { cause: err },
            );
          }
          this.#stats.retries++;
          this.#log.warn(
            { service: serviceFrame.toString('latin1'), attempt, attemptTimeoutMs },
            'no reply, resending on a fresh socket',
          );
          await this.#failover(connection.endpoint, signal);
        }
      }
    } catch (err) {
      if (bound?.timedOut === true && err instanceof AbortError) {
        this.#stats.timeouts++;
        this.#log.warn(
          { service: serviceFrame.toString('latin1'), attempts: attempt, timeoutMs },
          'no reply within timeoutMs, abandoning',
        );
        throw new MajordomoTimeoutError(serviceFrame.toString('utf8'), attempt, { timeoutMs: timeoutMs as number });
      }
      if (err instanceof AbortError) this.#stats.aborted++;
      throw err;
    } finally {
      bound?.dispose();
    }
  }

  /** The broker the next request goes to (the current one of `brokers`). */
  get broker(): string {
    return this.#pool.endpoint;
  }

  /**
   * With several brokers, a timed-out attempt moves the pool to the broker after the one it
   * timed out on (once, however many requests time out together), then waits `failoverDelayMs`.
   */
  async #failover(timedOutOn: string, signal: AbortSignal | undefined): Promise<void> {
    const { brokers } = this.#o;
    if (brokers.length < 2) return;
    if (this.#pool.endpoint === timedOutOn) {
      const next = brokers[(brokers.indexOf(timedOutOn) + 1) % brokers.length] as string;
      this.#log.warn(
        { from: timedOutOn, to: next, delayMs: this.#o.failoverDelayMs },
        'failing over to the next broker',
      );
      this.#pool.retarget(next);
      this.emit({ type: 'failover', from: timedOutOn, to: next });
    }
    await sleep(this.#o.failoverDelayMs, { clock: this.#o.clock, signal });
  }

  /**
   * MDP/0.2 streaming: yields every PARTIAL body, then the FINAL one (with `final: true`), then
   * ends. Same reliability rules as `request()`. On MDP/0.1 it yields the one reply.
   */
  async *stream(
    service: string | Buffer,
    body: Frame | readonly Frame[],
    options: Omit<RequestOptions, 'onPartial'> = {},
  ): AsyncGenerator<{ body: Buffer[]; final: boolean }, void, undefined> {
    const chunks: { body: Buffer[]; final: boolean }[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    let failure: unknown;
    const push = (chunk: { body: Buffer[]; final: boolean }): void => {
      chunks.push(chunk);
      wake?.();
    };
    const request = this.request(service, body, {
      ...options,
      onPartial: (partial) => push({ body: partial, final: false }),
    });
    request.then(
      (final) => push({ body: final, final: true }),
      (err: unknown) => {
        failure = err;
        done = true;
        wake?.();
      },
    );
    for (;;) {
      const chunk = chunks.shift();
      if (chunk !== undefined) {
        yield chunk;
        if (chunk.final) return;
        continue;
      }
      if (done) throw failure;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  }

  /**
   * Ask the broker whether `service` has live workers (8/MMI `mmi.service`): '200' yes, '404' no,
   * '501' when the broker does not implement the query.
   */
  async serviceStatus(service: string, options: RequestOptions = {}): Promise<MmiServiceStatus> {
    const reply = await this.request(MMI.SERVICE, frame(service), options);
    return (reply[reply.length - 1] ?? Buffer.alloc(0)).toString('utf8');
  }

  /**
   * The services the broker knows and their live worker counts, through the `mmi.services`
   * extension of our broker. Rejects with `ProtocolError` when the broker does not implement it
   * (a book broker answers "501").
   */
  async services(options: RequestOptions = {}): Promise<MmiServiceEntry[]> {
    const reply = await this.request(MMI.SERVICES, Buffer.alloc(0), options);
    const entries = decodeMmiServicesBody(reply);
    if (typeof entries === 'string') throw new ProtocolError(entries);
    return entries;
  }
}

/**
 * The whole-call bound of one request: its signal aborts when the caller's signal fires or when
 * `timeoutMs` has passed (then `timedOut` is true).
 */
class CallBound {
  readonly #controller = new AbortController();
  readonly #caller: AbortSignal | undefined;
  readonly #timer: TimerHandle;
  readonly #clock: ResolvedClientOptions['clock'];
  timedOut = false;

  constructor(caller: AbortSignal | undefined, timeoutMs: number, clock: ResolvedClientOptions['clock']) {
    this.#caller = caller;
    this.#clock = clock;
    caller?.addEventListener('abort', this.#onAbort, { once: true });
    this.#timer = clock.setTimeout(() => {
      this.timedOut = true;
      this.#controller.abort(new TimeoutError(`timeoutMs (${timeoutMs} ms) passed`));
    }, timeoutMs);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  readonly #onAbort = (): void => {
    this.#controller.abort(this.#caller?.reason);
  };

  dispose(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#caller?.removeEventListener('abort', this.#onAbort);
  }
}
