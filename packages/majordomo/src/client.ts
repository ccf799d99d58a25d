/**
 * The Majordomo client (the book's mdcliapi, made concurrent): `request()` sends one request to a
 * service through the broker and resolves with the reply body, with Lazy Pirate reliability:
 * after `timeoutMs` of silence the socket is closed and the request resent on a fresh one, up to
 * `retries` times, then `MajordomoTimeoutError`.
 *
 *   request('echo', body)         client DEALER (one per outstanding request)      broker
 *        |  acquire socket  ------>  ["", "MDPC01", "echo", body...]  ------------->  |
 *        |                  <------  ["", "MDPC01", "echo", reply...] <-------------  |
 *        |  timeout: close socket (linger 0), acquire a fresh one, resend, ...
 *
 * Concurrent calls are safe: each outstanding request owns one socket from a bounded pool, so
 * every reply is matched to its request without a request id on the wire.
 */
import {
  ClosedError,
  componentLogger,
  ProtocolError,
  sleep,
  frame,
  throwIfAborted,
  toBuffer,
  type Frame,
  type Logger,
} from '@zpatterns/core';
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
import { MajordomoTimeoutError } from './errors.js';
import { MajordomoPipeline } from './pipeline.js';
import { decodeMmiServicesBody, MMI, type MmiServiceEntry } from './protocol.js';

/** Status codes of `mmi.service` (8/MMI). */
export type MmiServiceStatus = '200' | '404' | '501' | (string & {});

/**
 * The Majordomo client (the book's mdcliapi, made concurrent): `request(service, body)` resolves
 * with the reply body. After `timeoutMs` without a reply the socket is closed and the request
 * resent on a fresh one, up to `retries` resends, then it rejects with `MajordomoTimeoutError`.
 * Concurrent calls are safe: each outstanding request owns a socket from a bounded pool.
 * Throws `MajordomoOptionsError` for bad options; calls after `close()` reject with `ClosedError`.
 */
export class MajordomoClient implements AsyncDisposable {
  readonly stats: ClientStats = newClientStats();
  readonly #o: ResolvedClientOptions;
  readonly #log: Logger;
  readonly #pool: ClientPool;
  readonly #pipelines = new Set<MajordomoPipeline>();
  #closing: Promise<void> | undefined;
  #closedWaiters: (() => void)[] = [];

  constructor(options: MajordomoClientOptions) {
    this.#o = resolveClientOptions(options);
    this.#log = componentLogger(this.#o.logger, { component: 'mdp-client', broker: this.#o.broker });
    this.#pool = new ClientPool({
      endpoint: this.#o.broker,
      version: this.#o.version,
      maxSockets: this.#o.maxSockets,
      maxIdleSockets: this.#o.maxIdleSockets,
      log: this.#log,
      stats: this.stats,
      security: this.#o.security,
    });
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
   * with `MajordomoTimeoutError` (code `ERR_TIMEOUT`) after `1 + retries` silent attempts,
   * `AbortError` when `signal` fires, `ClosedError` when the client is closed.
   */
  async request(
    service: string | Buffer,
    body: Frame | readonly Frame[],
    options: RequestOptions = {},
  ): Promise<Buffer[]> {
    if (this.#closing !== undefined) throw new ClosedError('client');
    const { signal, onPartial } = options;
    throwIfAborted(signal);
    const timeoutMs = options.timeoutMs ?? this.#o.timeoutMs;
    const retries = options.retries ?? this.#o.retries;
    checkPositive('timeoutMs', timeoutMs);
    checkCount('retries', retries, 0);
    const serviceFrame = toBuffer(service);
    const frames = (Array.isArray(body) ? (body as readonly Frame[]) : [body as Frame]).map(toBuffer);
    if (frames.length === 0) frames.push(Buffer.alloc(0));
    this.stats.requests++;
    const attempts = 1 + retries;
    for (let attempt = 1; ; attempt++) {
      const connection = await this.#pool.acquire(signal);
      try {
        const reply = await connection.exchange(serviceFrame, frames, {
          timeoutMs,
          signal,
          onPartial,
          clock: this.#o.clock,
        });
        this.#pool.release(connection);
        this.stats.replies++;
        return reply;
      } catch (err) {
        this.#pool.discard(connection);
        if (!(err instanceof AttemptTimeout)) {
          if (signal?.aborted === true) this.stats.aborted++;
          throw err;
        }
        if (attempt >= attempts || err.partials > 0) {
          this.stats.timeouts++;
          this.#log.warn(
            { service: serviceFrame.toString('latin1'), attempts: attempt, timeoutMs },
            'no reply, abandoning',
          );
          throw new MajordomoTimeoutError(serviceFrame.toString('utf8'), attempt, timeoutMs, { cause: err });
        }
        this.stats.retries++;
        this.#log.warn(
          { service: serviceFrame.toString('latin1'), attempt, timeoutMs },
          'no reply, resending on a fresh socket',
        );
        await this.#failover(connection.endpoint, signal);
      }
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

  /**
   * The pipelined client of the book's mdcliapi2: one DEALER, `send()` many, read replies as they
   * come. No retries. It shares this client's broker and version; `close()` closes it too.
   */
  pipeline(options: { timeoutMs?: number } = {}): MajordomoPipeline {
    if (this.#closing !== undefined) throw new ClosedError('client');
    const pipeline = new MajordomoPipeline({
      broker: this.#o.broker,
      version: this.#o.version,
      logger: this.#o.logger,
      clock: this.#o.clock,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    });
    this.#pipelines.add(pipeline);
    void pipeline.closed().then(() => this.#pipelines.delete(pipeline));
    return pipeline;
  }

  /**
   * Close every socket at once (linger 0). Requests in flight reject with `ClosedError`.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([this.#pool.close(), ...[...this.#pipelines].map((p) => p.close())]);
      this.#log.debug('closed');
    })();
    for (const waiter of this.#closedWaiters.splice(0)) waiter();
    return this.#closing;
  }

  /** Resolves once `close()` has finished. */
  async closed(): Promise<void> {
    if (this.#closing === undefined) await new Promise<void>((resolve) => this.#closedWaiters.push(resolve));
    await this.#closing;
  }

  /** Same as `close()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
