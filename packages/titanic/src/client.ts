/**
 * `TitanicClient`: the API the book says Titanic users need, so applications do not hand-roll the
 * polling loop of `ticlient`. It speaks 9/TSP over a `MajordomoClient` (MDP/0.1, Lazy Pirate
 * retries on each call).
 *
 *   const uuid = await titanic.submit('echo', ['Hello']);   // durable once this resolves
 *   ... the client may go away and come back with the uuid ...
 *   const reply = await titanic.waitReply(uuid, { timeoutMs: 60_000 });
 *   await titanic.close(uuid);                                // Titanic forgets it
 *
 * Keep the UUID somewhere safe between `submit` and `close` (a local database): it is the only
 * handle on the request. `close(uuid)` is the TSP operation; the client itself is shut down with
 * `shutdown()` (or `await using`).
 */
import {
  AbortError,
  deadline,
  exponentialBackoff,
  sleep,
  throwIfAborted,
  TimeoutError,
  type Frame,
  definedOnly,
} from '@zpatterns/core';
import { MajordomoClient, majordomoClientDefaults, type MajordomoClientOptions } from '@zpatterns/majordomo';
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
 * `waitReply`. 9/TSP is defined over MDP/0.1, the default `version`.
 */
export interface TitanicClientOptions extends MajordomoClientOptions {
  /** First delay between `titanic.reply` polls in `waitReply`. @default 100 */
  pollIntervalMs?: number;
  /** Largest delay between polls (the book's ticlient waits 5 s). @default 5000 */
  maxPollIntervalMs?: number;
}

/**
 * The client's defaults: those of `MajordomoClient` for each TSP call (2500 ms, 3 resends), and
 * `waitReply()` polling every 100 ms at first, backing off to 5 s.
 */
export const titanicClientDefaults = {
  ...majordomoClientDefaults,
  pollIntervalMs: 100,
  maxPollIntervalMs: 5000,
} as const satisfies Omit<Required<TitanicClientOptions>, 'broker' | 'brokers' | 'logger' | 'security' | 'timeoutMs'>;

/** Per-call options. */
export interface TitanicCallOptions {
  timeoutMs?: number;
  retries?: number;
  signal?: AbortSignal;
}

/** What `poll()` found. */
export type PollResult = { status: 'ok'; body: Buffer[] } | { status: 'pending' } | { status: 'unknown' };

/** Options of `waitReply(uuid, options)`. */
export interface WaitReplyOptions {
  /** Give up with `TimeoutError` after this long. @default wait for ever */
  timeoutMs?: number;
  /** Stop waiting: rejects with `AbortError`. The request stays stored; poll again later. */
  signal?: AbortSignal;
  /** First delay between polls. @default the client's `pollIntervalMs` */
  pollIntervalMs?: number;
  /** Largest delay between polls. @default the client's `maxPollIntervalMs` */
  maxPollIntervalMs?: number;
}

/**
 * A client of a Titanic server (9/TSP) over a `MajordomoClient`: `submit()` stores a request
 * durably and resolves with its UUID, `poll()` and `waitReply()` fetch the reply (also after a
 * restart of either side), `close(uuid)` tells Titanic to forget it. Each TSP call has Lazy Pirate
 * retries (`retries` resends after the first). Rejects with `TitanicRejectedError`,
 * `TitanicUnknownRequestError`, `TitanicServerError` or `TitanicBadReplyError` as the server
 * answers, `TimeoutError`, `AbortError`, or `ClosedError` after `close()` of the client.
 */
export class TitanicClient implements AsyncDisposable {
  readonly #mdp: MajordomoClient;
  readonly #started: Promise<void>;
  readonly #o: TitanicClientOptions &
    Omit<Required<TitanicClientOptions>, 'broker' | 'brokers' | 'logger' | 'security' | 'timeoutMs'>;

  constructor(options: TitanicClientOptions) {
    this.#o = { ...titanicClientDefaults, ...definedOnly(options) };
    const { pollIntervalMs: _poll, maxPollIntervalMs: _maxPoll, ...mdp } = this.#o;
    this.#mdp = new MajordomoClient(mdp);
    // Started at once; every call waits for it (a start after close() leaves the ClosedError to the call).
    this.#started = this.#mdp.start().catch(() => undefined);
  }

  async #request(
    service: string | Buffer,
    body: Frame | readonly Frame[],
    options: TitanicCallOptions,
  ): Promise<Buffer[]> {
    await this.#started;
    return this.#mdp.request(service, body, options);
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
    const frames = Array.isArray(body) ? (body as readonly Frame[]) : [body as Frame];
    const reply = await this.#request(TSP_SERVICE.REQUEST, encodeSubmit(service, frames), options);
    const uuid = decodeSubmitted(reply);
    if (typeof uuid === 'string') return uuid;
    if (uuid.status === '500') throw new TitanicServerError('titanic could not store the request (500)');
    if (uuid.status === '400') throw new TitanicRejectedError('titanic rejected the request as malformed (400)');
    throw new TitanicBadReplyError(`titanic.request: ${uuid.error}`);
  }

  /** Ask once for the reply (`titanic.reply`). Never consumes it: poll as often as you like. */
  async poll(uuid: string, options: TitanicCallOptions = {}): Promise<PollResult> {
    const id = checkUuid(uuid);
    const reply = decodeTspReply(await this.#request(TSP_SERVICE.REPLY, encodeUuidRequest(id), options));
    if (typeof reply === 'string') throw new TitanicBadReplyError(`titanic.reply: ${reply}`);
    switch (reply.status) {
      case '200':
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
   * UUID, `TimeoutError` after `timeoutMs`, `AbortError` on `signal`. Calls that time out at the
   * MDP level (Titanic or the broker restarting) are retried until `timeoutMs`.
   */
  async waitReply(uuid: string, options: WaitReplyOptions = {}): Promise<Buffer[]> {
    const id = checkUuid(uuid);
    const clock = this.#o.clock;
    const { signal } = options;
    throwIfAborted(signal);
    const timeoutMs = options.timeoutMs ?? Number.POSITIVE_INFINITY;
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const delay = exponentialBackoff({
      initialMs: options.pollIntervalMs ?? this.#o.pollIntervalMs,
      maxMs: Math.max(
        options.pollIntervalMs ?? this.#o.pollIntervalMs,
        options.maxPollIntervalMs ?? this.#o.maxPollIntervalMs,
      ),
    });
    const loop = async (): Promise<Buffer[]> => {
      for (let attempt = 1; ; attempt++) {
        let result: PollResult | undefined;
        try {
          result = await this.poll(id, { signal: stop.signal });
        } catch (err) {
          if ((err as { code?: unknown }).code !== 'ERR_TIMEOUT') throw err;
        }
        if (result?.status === 'ok') return result.body;
        if (result?.status === 'unknown') throw new TitanicUnknownRequestError(id);
        await sleep(delay(attempt) ?? 1000, { clock, signal: stop.signal });
      }
    };
    try {
      return await deadline(loop(), {
        timeoutMs,
        signal,
        clock,
        timeoutMessage: `no reply for ${id} within ${timeoutMs} ms (waitReply timeoutMs)`,
      });
    } catch (err) {
      if (err instanceof TimeoutError || err instanceof AbortError) stop.abort(err);
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      stop.abort();
    }
  }

  /** Tell Titanic to forget the request and its reply (`titanic.close`). Idempotent. */
  async close(uuid: string, options: TitanicCallOptions = {}): Promise<void> {
    const id = checkUuid(uuid);
    const reply = decodeTspReply(await this.#request(TSP_SERVICE.CLOSE, encodeUuidRequest(id), options));
    if (typeof reply === 'string') throw new TitanicBadReplyError(`titanic.close: ${reply}`);
    if (reply.status === '500') throw new TitanicServerError();
    if (reply.status !== '200') throw new TitanicBadReplyError(`titanic.close answered ${reply.status}`);
  }

  /** The whole ticlient flow: submit, wait for the reply, close. Resolves with the reply body. */
  async call(
    service: string | Buffer,
    body: Frame | readonly Frame[],
    options: WaitReplyOptions = {},
  ): Promise<Buffer[]> {
    const uuid = await this.submit(service, body, options.signal === undefined ? {} : { signal: options.signal });
    const reply = await this.waitReply(uuid, options);
    await this.close(uuid);
    return reply;
  }

  /** Close the client's sockets. Calls in flight reject with `ClosedError`. Idempotent. */
  async shutdown(): Promise<void> {
    await this.#mdp.close();
  }

  /**
   * Resolves once `shutdown()` has finished, never rejects. (The client's own end is `shutdown()`,
   * as `close(uuid)` is the Titanic call that forgets a request.)
   */
  async closed(): Promise<void> {
    await this.#mdp.closed();
  }

  /** Same as `close()` of the client (not of a request), for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}

function checkUuid(uuid: string): string {
  const id = parseUuid(uuid);
  if (id === undefined) throw new TitanicInvalidUuidError(uuid);
  return id;
}
