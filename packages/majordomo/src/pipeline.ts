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
 * worker or the broker is simply never answered, and `recv({ timeoutMs })` rejects with
 * `TimeoutError`. Replies
 * carry their service but nothing else, so with several requests in flight the application must
 * put its own correlation in the body if it needs one (or use `MajordomoClient.request()`).
 */
import * as zmq from 'zeromq';
import {
  InvalidStateError,
  AbortError,
  Channel,
  ClosedError,
  Component,
  TimeoutError,
  applyConnectSecurity,
  componentLogger,
  Deque,
  EMPTY,
  systemClock,
  toBuffer,
  toError,
  type Clock,
  type Frame,
  type Logger,
  type SecurityOptions,
  type TimerHandle,
  definedOnly,
} from '@zpatterns/core';
import { checkCount, checkPositive } from './client-options.js';
import { MajordomoOptionsError } from './errors.js';
import { decodeClientReply, encodeClientRequest, type MdpVersion } from './codec.js';

/** Options of `new MajordomoPipeline(options)`. */
export interface MajordomoPipelineOptions {
  /** Broker endpoint. Required. */
  broker: string;
  /** MDP version. @default '0.1' */
  version?: MdpVersion;
  /** Default wait of `recv()` before it rejects with `TimeoutError` (the book's mdcliapi2 timeout). @default 2500 */
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
  /** The service that answered. */
  service: Buffer;
  /** The reply body. */
  body: Buffer[];
  /** False for an MDP/0.2 PARTIAL. */
  final: boolean;
}

/** Counters of one `MajordomoPipeline`; `pipeline.stats` returns a fresh snapshot on every read. */
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
 * a lost request is never answered, and `recv({ timeoutMs })` rejects with `TimeoutError`. Only
 * one `recv()` may wait at a time (another rejects with `InvalidStateError`).
 *
 * `new MajordomoPipeline({ broker })` checks the options (throws `MajordomoOptionsError`) and opens
 * nothing; `start()` opens the DEALER and connects it, and resolves once requests can be sent.
 * Before `start()` calls fail with `NotStartedError`, after `close()` with `ClosedError` (`send()`,
 * which never waits, throws them; the others reject).
 */
export class MajordomoPipeline extends Component {
  readonly #stats: PipelineStats = { sent: 0, received: 0, malformed: 0, dropped: 0 };
  readonly #o: Required<Omit<MajordomoPipelineOptions, 'logger' | 'security'>>;
  readonly #log: Logger;
  readonly #security: SecurityOptions | undefined;
  #channel: Channel<zmq.Dealer> | undefined;
  readonly #inbox = new Deque<PipelineReply>();
  #waiter: { resolve: (reply: PipelineReply) => void; reject: (err: Error) => void } | undefined;
  /** The last service name sent as a string, and its bytes (a pipeline usually talks to one). */
  #lastService: string | undefined;
  #lastServiceBytes: Buffer = EMPTY;

  constructor(options: MajordomoPipelineOptions) {
    super();
    this.#o = { ...majordomoPipelineDefaults, ...definedOnly(options) };
    if (typeof this.#o.broker !== 'string' || this.#o.broker === '')
      throw new MajordomoOptionsError('broker: an endpoint is required');
    checkPositive('timeoutMs', this.#o.timeoutMs);
    checkCount('sendHighWaterMark', this.#o.sendHighWaterMark, 0);
    checkCount('maxBufferedReplies', this.#o.maxBufferedReplies, 1);
    this.#log = componentLogger(options.logger, { component: 'mdp-pipeline', broker: this.#o.broker });
    this.#security = options.security;
  }

  /** Open the DEALER and connect it to the broker. */
  protected async onStart(): Promise<void> {
    const socket = new zmq.Dealer({ linger: 0, sendHighWaterMark: this.#o.sendHighWaterMark, receiveHighWaterMark: 0 });
    this.#channel = new Channel(socket, { name: 'mdp-pipeline', logger: this.#log });
    applyConnectSecurity(socket, this.#security);
    socket.connect(this.#o.broker);
    void this.#channel.start(this.#onMessage);
  }

  /** Close the socket at once (linger 0); a waiting `recv()` rejects with `ClosedError`. */
  protected async onClose(): Promise<void> {
    this.#waiter?.reject(new ClosedError('pipeline'));
    await this.#channel?.close();
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): PipelineStats {
    return { ...this.#stats };
  }

  /** Requests queued in the channel and not yet handed to libzmq. */
  get queued(): number {
    return this.#channel?.queued ?? 0;
  }

  /**
   * Queue a request without waiting. Throws `NotStartedError` before `start()` and `ClosedError`
   * after `close()` (synchronously: it is the one call that never waits).
   */
  send(service: string | Buffer, body: Frame | readonly Frame[]): void {
    this.assertRunning();
    if (!(this.#channel as Channel<zmq.Dealer>).post(this.#encode(service, body))) throw new ClosedError('pipeline');
    this.#stats.sent++;
  }

  /** Queue a request and resolve once libzmq has taken it (back-pressure for large bursts). */
  async sendAsync(service: string | Buffer, body: Frame | readonly Frame[]): Promise<void> {
    this.assertRunning();
    await (this.#channel as Channel<zmq.Dealer>).send(this.#encode(service, body));
    this.#stats.sent++;
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
   * The next reply. Rejects with `TimeoutError` after `timeoutMs` (default: the pipeline's
   * `timeoutMs`; pass `Infinity` to wait for ever), `AbortError` when `signal` fires,
   * `ClosedError` once the pipeline is closed. One reader at a time.
   */
  recv(options: { timeoutMs?: number | undefined; signal?: AbortSignal | undefined } = {}): Promise<PipelineReply> {
    try {
      this.assertRunning();
    } catch (err) {
      return Promise.reject(toError(err));
    }
    const queued = this.#inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#waiter !== undefined)
      return Promise.reject(new InvalidStateError('MajordomoPipeline: one recv() at a time'));
    const { signal } = options;
    if (signal?.aborted === true) return Promise.reject(new AbortError('recv aborted', { cause: signal.reason }));
    const timeoutMs = options.timeoutMs ?? this.#o.timeoutMs;
    const clock = this.#o.clock;
    return new Promise<PipelineReply>((resolve, reject) => {
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
          reject(new TimeoutError(`no reply within timeoutMs (${timeoutMs} ms)`));
        }, timeoutMs);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiter = {
        resolve: (reply) => {
          cleanup();
          resolve(reply);
        },
        reject: (err) => {
          cleanup();
          reject(err);
        },
      };
    });
  }

  /**
   * Every reply as it arrives, until the pipeline is closed (then it ends). Breaking out leaves
   * the pipeline open; `signal` ends the loop with `AbortError`.
   */
  async *replies(options: { signal?: AbortSignal } = {}): AsyncGenerator<PipelineReply, void, undefined> {
    const recvOptions = { timeoutMs: Number.POSITIVE_INFINITY, ...definedOnly(options) };
    const inbox = this.#inbox;
    for (;;) {
      // Replies already buffered are yielded without a recv() promise each.
      let reply = inbox.shift();
      if (reply === undefined) {
        try {
          reply = await this.recv(recvOptions);
        } catch (err) {
          if (err instanceof ClosedError) return;
          throw err;
        }
      }
      yield reply;
    }
  }

  readonly #onMessage = (message: Buffer[]): void => {
    const reply = decodeClientReply(this.#o.version, message);
    if (typeof reply === 'string') {
      this.#stats.malformed++;
      this.#log.warn({ reason: reply, frames: message.length }, 'malformed reply dropped');
      return;
    }
    this.#stats.received++;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      waiter.resolve(reply);
      return;
    }
    if (this.#inbox.length >= this.#o.maxBufferedReplies) {
      this.#inbox.shift();
      this.#stats.dropped++;
    }
    this.#inbox.push(reply);
  };
}
