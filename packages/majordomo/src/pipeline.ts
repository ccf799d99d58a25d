/**
 * The pipelined ("asynchronous") Majordomo client of the book's mdcliapi2: one DEALER socket,
 * `send()` queues a request and returns at once, replies are read as they come with `recv()` or
 * `for await (const r of pipeline.replies())`.
 *
 *   send('echo', a) ---> ["", "MDPC01", "echo", a]  --->  broker ---> workers
 *   send('echo', b) ---> ["", "MDPC01", "echo", b]  --->
 *   recv()          <--- ["", "MDPC01", "echo", a'] <---  (in whatever order workers answer)
 *
 * As in the book, there are no retries and no reconnection of requests: a request lost with a
 * worker or the broker is simply never answered, and `recv({timeoutMs})` returns `null`. Replies
 * carry their service but nothing else, so with several requests in flight the application must
 * put its own correlation in the body if it needs one (or use `MajordomoClient.request()`).
 */
import * as zmq from 'zeromq';
import {
  InvalidStateError,
  AbortError,
  Channel,
  ClosedError,
  applyConnectSecurity,
  componentLogger,
  Deque,
  EMPTY,
  systemClock,
  toBuffer,
  type Clock,
  type Frame,
  type Logger,
  type SecurityOptions,
  type TimerHandle,
  definedOnly,
} from '@zpatterns/core';
import { checkCount, checkPositive } from './client-options.js';
import { MajordomoOptionsError } from './errors.js';
import { decodeClientReply, encodeClientRequest, type MdpVersion } from './protocol.js';

/** Options of `new MajordomoPipeline(options)`. */
export interface MajordomoPipelineOptions {
  /** Broker endpoint. Required. */
  broker: string;
  /** MDP version. @default '0.1' */
  version?: MdpVersion;
  /** Default wait of `recv()` before it returns `null` (the book's mdcliapi2 timeout). @default 2500 */
  timeoutMs?: number;
  /** ZeroMQ send high-water mark of the DEALER (messages). @default 1000 */
  sendHighWaterMark?: number;
  /** Replies buffered while nobody reads; past it the oldest is dropped (counted). @default 1000000 */
  maxBufferedReplies?: number;
  /**
   * CURVE: this side's key pair and the broker's public key. Without it the connection is plain.
   * @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
  /** Time source for `recv()` timeouts. @default systemClock */
  clock?: Clock;
}

/** The pipeline's defaults: see `MajordomoPipelineOptions`. */
export const majordomoPipelineDefaults: Required<Omit<MajordomoPipelineOptions, 'broker' | 'logger' | 'security'>> = {
  version: '0.1',
  timeoutMs: 2500,
  sendHighWaterMark: 1000,
  maxBufferedReplies: 1_000_000,
  clock: systemClock,
};

/** One reply read by the pipelined client. */
export interface PipelineReply {
  service: Buffer;
  body: Buffer[];
  /** False for an MDP/0.2 PARTIAL. */
  final: boolean;
}

/** Counters of one `MajordomoPipeline`, live fields updated in place. */
export interface PipelineStats {
  /** Requests sent. */
  sent: number;
  /** Replies received. */
  received: number;
  /** Messages from the broker that were not a valid reply (dropped and logged). */
  malformed: number;
  /** Replies dropped because `maxBufferedReplies` were waiting unread. */
  dropped: number;
}

/**
 * The pipelined Majordomo client (the book's mdcliapi2): one DEALER, `send()` queues a request
 * and returns at once, replies are read in arrival order with `recv()` or `replies()`. No retries:
 * a lost request is never answered, and `recv({ timeoutMs })` resolves `null`. Only one `recv()`
 * may wait at a time (another rejects with `InvalidStateError`); after `close()` calls reject with
 * `ClosedError`.
 */
export class MajordomoPipeline implements AsyncDisposable {
  readonly stats: PipelineStats = { sent: 0, received: 0, malformed: 0, dropped: 0 };
  readonly #o: Required<Omit<MajordomoPipelineOptions, 'logger' | 'security'>>;
  readonly #log: Logger;
  readonly #channel: Channel<zmq.Dealer>;
  readonly #inbox = new Deque<PipelineReply>();
  #waiter: { resolve: (reply: PipelineReply | null) => void; cleanup: () => void } | undefined;
  #closing: Promise<void> | undefined;
  /** The last service name sent as a string, and its bytes (a pipeline usually talks to one). */
  #lastService: string | undefined;
  #lastServiceBytes: Buffer = EMPTY;

  constructor(options: MajordomoPipelineOptions) {
    this.#o = { ...majordomoPipelineDefaults, ...definedOnly(options) };
    if (typeof this.#o.broker !== 'string' || this.#o.broker === '')
      throw new MajordomoOptionsError('broker: an endpoint is required');
    checkPositive('timeoutMs', this.#o.timeoutMs);
    checkCount('sendHighWaterMark', this.#o.sendHighWaterMark, 0);
    checkCount('maxBufferedReplies', this.#o.maxBufferedReplies, 1);
    this.#log = componentLogger(options.logger, { component: 'mdp-pipeline', broker: this.#o.broker });
    const socket = new zmq.Dealer({ linger: 0, sendHighWaterMark: this.#o.sendHighWaterMark, receiveHighWaterMark: 0 });
    applyConnectSecurity(socket, options.security);
    socket.connect(this.#o.broker);
    this.#channel = new Channel(socket, { name: 'mdp-pipeline', logger: this.#log });
    void this.#channel.start(this.#onMessage);
  }

  /** Requests queued in the channel and not yet handed to libzmq. */
  get queued(): number {
    return this.#channel.queued;
  }

  /** Queue a request without waiting. Throws `ClosedError` after `close()`. */
  send(service: string | Buffer, body: Frame | readonly Frame[]): void {
    if (!this.#channel.post(this.#encode(service, body))) throw new ClosedError('pipeline');
    this.stats.sent++;
  }

  /** Queue a request and resolve once libzmq has taken it (back-pressure for large bursts). */
  async sendAsync(service: string | Buffer, body: Frame | readonly Frame[]): Promise<void> {
    await this.#channel.send(this.#encode(service, body));
    this.stats.sent++;
  }

  #encode(service: string | Buffer, body: Frame | readonly Frame[]): Frame[] {
    const frames = Array.isArray(body) ? (body as readonly Frame[]) : [body as Frame];
    return encodeClientRequest(this.#o.version, this.#serviceBytes(service), frames.length === 0 ? [EMPTY] : frames);
  }

  #serviceBytes(service: string | Buffer): Buffer {
    if (typeof service !== 'string') return toBuffer(service);
    if (service !== this.#lastService) {
      this.#lastServiceBytes = Buffer.from(service, 'utf8');
      this.#lastService = service;
    }
    return this.#lastServiceBytes;
  }

  /**
   * The next reply, or `null` after `timeoutMs` (default: the pipeline's `timeoutMs`; pass
   * `Infinity` to wait for ever) or once the pipeline is closed. One reader at a time.
   */
  recv(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<PipelineReply | null> {
    const queued = this.#inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#closing !== undefined) return Promise.resolve(null);
    if (this.#waiter !== undefined)
      return Promise.reject(new InvalidStateError('MajordomoPipeline: one recv() at a time'));
    const { signal } = options;
    if (signal?.aborted === true) return Promise.reject(new AbortError('recv aborted', { cause: signal.reason }));
    const timeoutMs = options.timeoutMs ?? this.#o.timeoutMs;
    const clock = this.#o.clock;
    return new Promise<PipelineReply | null>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const onAbort = (): void => {
        cleanup();
        reject(new AbortError('recv aborted', { cause: signal?.reason }));
      };
      const cleanup = (): void => {
        if (timer !== undefined) clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiter = undefined;
      };
      if (timeoutMs !== Number.POSITIVE_INFINITY) {
        timer = clock.setTimeout(() => {
          cleanup();
          resolve(null);
        }, timeoutMs);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiter = {
        cleanup,
        resolve: (reply) => {
          cleanup();
          resolve(reply);
        },
      };
    });
  }

  /** Every reply as it arrives, until the pipeline is closed. Breaking out leaves it open. */
  async *replies(options: { signal?: AbortSignal } = {}): AsyncGenerator<PipelineReply, void, undefined> {
    const recvOptions = { timeoutMs: Number.POSITIVE_INFINITY, ...definedOnly(options) };
    const inbox = this.#inbox;
    for (;;) {
      // Replies already buffered are yielded without a recv() promise each.
      const reply = inbox.shift() ?? (await this.recv(recvOptions));
      if (reply === null) return;
      yield reply;
    }
  }

  readonly #onMessage = (message: Buffer[]): void => {
    const reply = decodeClientReply(this.#o.version, message);
    if (typeof reply === 'string') {
      this.stats.malformed++;
      this.#log.warn({ reason: reply, frames: message.length }, 'malformed reply dropped');
      return;
    }
    this.stats.received++;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      waiter.resolve(reply);
      return;
    }
    if (this.#inbox.length >= this.#o.maxBufferedReplies) {
      this.#inbox.shift();
      this.stats.dropped++;
    }
    this.#inbox.push(reply);
  };

  /** Close the socket at once (linger 0); a pending `recv()` resolves `null`. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#waiter?.resolve(null);
      await this.#channel.close();
    })();
    return this.#closing;
  }

  /** Resolves once closed. */
  async closed(): Promise<void> {
    await this.#channel.closed();
  }

  /** Same as `close()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
