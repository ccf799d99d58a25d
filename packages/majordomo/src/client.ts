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
  CallBudget,
  ClosedError,
  Component,
  invalidOption,
  ProtocolError,
  sleep,
  TimeoutError,
  toError,
  type FailoverEvent,
  type Frame,
  type Frames,
  type Logger,
  type RequestOptions,
} from '@zpatterns/core';
import {
  componentLogger,
  frame,
  toBuffer,
  failSpan,
  SpanKinds,
  startSpan,
  tracingActive,
  type TraceSpan,
} from '@zpatterns/core/internal';
import { AttemptTimeout, newClientStats, type ClientStats } from './client-connection.js';
import {
  callRules,
  resolveClientOptions,
  type MajordomoClientOptions,
  type ResolvedClientOptions,
} from './client-options.js';
import { ClientPool } from './client-pool.js';
import { InboundGuard } from './inbound-limits.js';
import { decodeMmiServicesBody, encodeClientRequest, MMI, type MdpVersion, type MmiServiceEntry } from './codec.js';
import { ServiceFrames } from './service-frame.js';

/** A call's own options, over the client's defaults. */
interface CallOptions {
  readonly timeoutMs: number;
  readonly attemptTimeoutMs: number;
  readonly retries: number;
  readonly signal?: AbortSignal | undefined;
}

/** `value` (or `fallback` when undefined) once the client's rule for `key` holds. */
function callOption(key: keyof typeof callRules, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const rule = callRules[key];
  if (!rule.test(value)) throw invalidOption('MajordomoClient.request', key, rule.must, value);
  return value;
}

/**
 * A request as the client's DEALER writes it, in one array: `body` (one frame or several, an
 * empty list as one empty frame) after the header and `service`.
 */
function requestMessage(version: MdpVersion, service: Buffer, body: Frame | Frames): Buffer[] {
  if (!Array.isArray(body)) return encodeClientRequest(version, service, [toBuffer(body as Frame)]) as Buffer[];
  const frames = body as Frames;
  if (frames.length === 0) return encodeClientRequest(version, service, [EMPTY_FRAME]) as Buffer[];
  if (frames.length === 1) return encodeClientRequest(version, service, [toBuffer(frames[0] as Frame)]) as Buffer[];
  return encodeClientRequest(version, service, frames.map(toBuffer)) as Buffer[];
}

const EMPTY_FRAME = Buffer.alloc(0);

/** One reply of `client.stream()`: a PARTIAL (`final: false`) or the FINAL body. */
export interface StreamReply {
  /** The reply body. */
  readonly body: Buffer[];
  /** True for the FINAL reply, the last one. */
  readonly final: boolean;
}

/** Status codes of `mmi.service` (8/MMI). */
export type MmiServiceStatus = '200' | '404' | '501' | (string & {});

/**
 * The client's status events, from `client.status()` (beside `started` and `closed`). Nothing is
 * reported per request (see `stats`); with several `brokers`, a move to the next one is
 * (`failover`, from the broker an attempt timed out on to the one new requests go to).
 */
export type MajordomoClientStatus = FailoverEvent;

/** A service frame as its name, for errors and logs. */
const nameOf = (serviceFrame: Buffer): string => serviceFrame.toString('latin1');

/**
 * The Majordomo client (the book's mdcliapi, made concurrent): `request(service, body)` resolves
 * with the reply body. After `attemptTimeoutMs` without a reply the socket is closed and the
 * request resent on a fresh one, up to `retries` resends, then it rejects with core's
 * `TimeoutError` (with `attempts`); `timeoutMs` (when set) bounds the whole call. Concurrent calls
 * are safe: each outstanding request owns a socket from a bounded pool.
 *
 * `new MajordomoClient({ broker })` checks the options (throws `InvalidArgumentError`) and opens
 * nothing; `start()` makes it ready to take requests (sockets are opened on demand, one per
 * request in flight, and kept for reuse). Calls before `start()` reject with `NotStartedError`,
 * after `close()` with `ClosedError`.
 */
export class MajordomoClient extends Component<MajordomoClientStatus> {
  readonly #stats: ClientStats = newClientStats();
  readonly #o: ResolvedClientOptions;
  readonly #log: Logger;
  readonly #pool: ClientPool;
  /** The defaults of a call's own options (checked with the rest in the constructor). */
  readonly #callDefaults: CallOptions;
  readonly #services = new ServiceFrames();

  constructor(options: MajordomoClientOptions) {
    super();
    this.#o = resolveClientOptions(options);
    const { timeoutMs, attemptTimeoutMs, retries } = this.#o;
    this.#callDefaults = { timeoutMs, attemptTimeoutMs, retries };
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

  /** Sockets open now, and callers waiting for one (beyond `maxSockets`). */
  get sockets(): { open: number; idle: number; waiting: number } {
    return { open: this.#pool.size, idle: this.#pool.idle, waiting: this.#pool.waiting };
  }

  /**
   * Send `body` (one frame or several) to `service` and resolve with the reply body (the FINAL
   * one on MDP/0.2). Rejects with core's `TimeoutError` (code `ERR_TIMEOUT`, with `attempts`)
   * after `1 + retries` silent attempts or once `timeoutMs` has passed, `AbortError` when
   * `signal` fires, `InvalidArgumentError` for bad options, `NotStartedError` before `start()`,
   * `ClosedError` when the client is closed.
   */
  request(service: string | Buffer, body: Frame | Frames, options: RequestOptions = {}): Promise<Buffer[]> {
    // Not async, nor is #traced without a span: each async layer returning the next one's promise
    // costs the caller's await extra microtask turns.
    try {
      this.assertRunning();
    } catch (err) {
      return Promise.reject(toError(err)); // NotStartedError or ClosedError
    }
    return this.#traced(service, body, options, undefined);
  }

  /** `#request` inside a CLIENT span (with OpenTelemetry installed): an event per attempt, the outcome. */
  #traced(
    service: string | Buffer,
    body: Frame | Frames,
    options: RequestOptions,
    onPartial: ((body: Buffer[]) => void) | undefined,
  ): Promise<Buffer[]> {
    // No span (nor its attributes) unless a tracer provider is registered.
    if (!tracingActive()) return this.#request(service, body, options, onPartial, undefined);
    const name = typeof service === 'string' ? service : service.toString('latin1');
    const span = startSpan('@zpatterns/majordomo', name, SpanKinds.client, {
      'rpc.system': 'majordomo',
      'rpc.service': name,
    });
    if (span === undefined) return this.#request(service, body, options, onPartial, undefined);
    return this.#spanned(span, service, body, options, onPartial);
  }

  async #spanned(
    span: TraceSpan,
    service: string | Buffer,
    body: Frame | Frames,
    options: RequestOptions,
    onPartial: ((body: Buffer[]) => void) | undefined,
  ): Promise<Buffer[]> {
    try {
      const reply = await this.#request(service, body, options, onPartial, span);
      span.end();
      return reply;
    } catch (err) {
      failSpan(span, err);
      throw err;
    }
  }

  async #request(
    service: string | Buffer,
    body: Frame | Frames,
    options: RequestOptions,
    onPartial: ((body: Buffer[]) => void) | undefined,
    span: TraceSpan | undefined,
  ): Promise<Buffer[]> {
    const serviceFrame = this.#services.of(service);
    const call = this.#callOptions(options);
    // The service's name is for errors and logs only: decoded when one needs it (one closure).
    const budget = new CallBudget(() => `MajordomoClient: request to '${nameOf(serviceFrame)}'`, call, this.#o.clock);
    // The budget's signal aborts on a whole-call timeoutMs or the caller's signal. Without a
    // timeoutMs the waits get the caller's signal itself (or none): the budget then makes no
    // AbortController, which cost ~10 us per request.
    const signal = Number.isFinite(call.timeoutMs) ? budget.signal : call.signal;
    // Encoded once: a resend posts the same frames on a fresh socket.
    const message = requestMessage(this.#o.version, serviceFrame, body);
    this.#stats.requests++;
    let partials = 0;
    const onChunk =
      onPartial === undefined
        ? undefined
        : (partial: Buffer[]): void => {
            partials++;
            onPartial(partial);
          };
    try {
      while (budget.next()) {
        const attempt = budget.attempts;
        const connection = this.#pool.takeIdle() ?? (await this.#pool.acquire(signal));
        const endpoint = connection.endpoint;
        span?.addEvent('attempt', { 'majordomo.attempt': attempt, 'server.address': connection.endpoint });
        span?.setAttribute('majordomo.attempts', attempt);
        try {
          await connection.exchange(serviceFrame, message, call.attemptTimeoutMs, signal, onChunk, this.#o.clock);
          const reply = connection.takeReply();
          this.#pool.release(connection);
          this.#stats.replies++;
          return reply;
        } catch (err) {
          this.#pool.discard(connection);
          if (!(err instanceof AttemptTimeout)) throw err;
        }
        if (partials > 0) {
          // Resending would deliver the partials twice: a stream that went quiet ends here.
          throw new TimeoutError(
            `MajordomoClient: request to '${nameOf(serviceFrame)}': no reply within attemptTimeoutMs (${call.attemptTimeoutMs} ms) ` +
              `after ${partials} partial(s); not resent`,
            { attempts: attempt },
          );
        }
        if (attempt > call.retries) continue; // the last attempt: next() ends the loop
        this.#stats.retries++;
        this.#log.warn(
          { service: nameOf(serviceFrame), attempt, attemptTimeoutMs: call.attemptTimeoutMs },
          'no reply, resending on a fresh socket',
        );
        await this.#failover(endpoint, signal);
      }
      throw budget.error();
    } catch (caught) {
      // A wait cut short by the budget (whole-call timeout or the caller's signal) ends with the
      // budget's own error: TimeoutError with attempts, or AbortError.
      const err = caught instanceof AbortError && budget.signal.aborted ? (budget.signal.reason as Error) : caught;
      if (err instanceof TimeoutError) {
        this.#stats.timeouts++;
        this.#log.warn({ service: nameOf(serviceFrame), attempts: budget.attempts }, 'no reply, abandoning');
      } else if (err instanceof AbortError) this.#stats.aborted++;
      throw err;
    } finally {
      budget.dispose();
    }
  }

  /**
   * A call's options over the client's defaults, checked against the client's rules (stricter
   * than `CallBudget`'s own, which checks them again with three tests). Without overrides: the
   * defaults object itself, or one copy with the caller's signal; no `resolveOptions()` per call.
   */
  #callOptions(options: RequestOptions): CallOptions {
    const d = this.#callDefaults;
    const { timeoutMs, attemptTimeoutMs, retries, signal } = options;
    if (timeoutMs === undefined && attemptTimeoutMs === undefined && retries === undefined) {
      return signal === undefined ? d : { ...d, signal };
    }
    return {
      timeoutMs: callOption('timeoutMs', timeoutMs, d.timeoutMs),
      attemptTimeoutMs: callOption('attemptTimeoutMs', attemptTimeoutMs, d.attemptTimeoutMs),
      retries: callOption('retries', retries, d.retries),
      signal,
    };
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
   * ends. Same reliability rules as `request()`, except that a request is not resent once a
   * PARTIAL has arrived. On MDP/0.1 it yields the one reply. Leaving the loop (`break`) abandons
   * the request; `signal` makes the pending `next()` reject with `AbortError`; closing the client
   * ends the loop quietly.
   */
  async *stream(
    service: string | Buffer,
    body: Frame | Frames,
    options: RequestOptions = {},
  ): AsyncGenerator<StreamReply, void, undefined> {
    this.assertRunning();
    const cancel = new AbortController();
    const signal = options.signal === undefined ? cancel.signal : AbortSignal.any([options.signal, cancel.signal]);
    const chunks: StreamReply[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    let failure: unknown;
    const push = (chunk: StreamReply): void => {
      chunks.push(chunk);
      wake?.();
    };
    this.#traced(service, body, { ...options, signal }, (partial) => push({ body: partial, final: false })).then(
      (final) => push({ body: final, final: true }),
      (err: unknown) => {
        failure = err;
        done = true;
        wake?.();
      },
    );
    try {
      for (;;) {
        const chunk = chunks.shift();
        if (chunk !== undefined) {
          yield chunk;
          if (chunk.final) return;
          continue;
        }
        if (done) {
          if (failure instanceof ClosedError) return;
          throw failure;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      cancel.abort(); // after a break: abandon the request (nothing happens once it has settled)
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
