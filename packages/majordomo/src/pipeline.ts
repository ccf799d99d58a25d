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
  AbortError,
  ClosedError,
  Component,
  InvalidStateError,
  invalidOption,
  resolveOptions,
  rules,
  oneOf,
  systemClock,
  TimeoutError,
  toError,
  type Clock,
  type Frame,
  type Frames,
  type Logger,
  type RequestOptions,
  type ResolvedOptions,
  type SecurityOptions,
  type TimerHandle,
} from '@zpatterns/core';
import { applyConnectSecurity, Channel, componentLogger, EMPTY, Deque } from '@zpatterns/core/internal';
import { decodeClientReply, encodeClientRequest, type MdpVersion } from './codec.js';
import { ServiceFrames } from './service-frame.js';

const RECV = 'MajordomoPipeline: recv';
const recvAborted = (signal: AbortSignal): AbortError => new AbortError(`${RECV} aborted`, { cause: signal.reason });

/** Options of `new MajordomoPipeline(options)`. */
export interface MajordomoPipelineOptions {
  /** Broker endpoint. Required. */
  broker: string;
  /** MDP version. @default '0.1' */
  version?: MdpVersion | undefined;
  /**
   * Default wait of `recv()` before it rejects with `TimeoutError` (the book's mdcliapi2 timeout).
   * @default 2500
   */
  timeoutMs?: number | undefined;
  /** ZeroMQ send high-water mark of the DEALER (messages). @default 1000 */
  sendHighWaterMark?: number | undefined;
  /** Replies buffered while nobody reads; past it the oldest is dropped (counted). @default 1000000 */
  maxBufferedReplies?: number | undefined;
  /**
   * CURVE: this side's key pair and the broker's public key. Without it the connection is plain.
   * @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
  /** Time source for `recv()` timeouts. @default systemClock */
  clock?: Clock | undefined;
}

/** The pipeline's defaults: see `MajordomoPipelineOptions`. */
export const majordomoPipelineDefaults = {
  version: '0.1' as MdpVersion,
  timeoutMs: 2500,
  sendHighWaterMark: 1000,
  maxBufferedReplies: 1_000_000,
  clock: systemClock,
};

type ResolvedPipelineOptions = ResolvedOptions<MajordomoPipelineOptions, typeof majordomoPipelineDefaults> & {
  readonly broker: string;
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
  requests: number;
  /** Replies received (PARTIAL and FINAL). */
  replies: number;
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
 * `new MajordomoPipeline({ broker })` checks the options (throws `InvalidArgumentError`) and opens
 * nothing; `start()` opens the DEALER and connects it, and resolves once requests can be sent.
 * Before `start()` calls fail with `NotStartedError`, after `close()` with `ClosedError` (`send()`,
 * which never waits, throws them; the others reject).
 */
export class MajordomoPipeline extends Component {
  readonly #stats: PipelineStats = { requests: 0, replies: 0, malformed: 0, dropped: 0 };
  readonly #o: ResolvedPipelineOptions;
  readonly #log: Logger;
  #channel: Channel<zmq.Dealer> | undefined;
  readonly #inbox = new Deque<PipelineReply>();
  #waiter: { resolve: (reply: PipelineReply) => void; reject: (err: Error) => void } | undefined;
  /** The last service name sent as a string, and its bytes (a pipeline usually talks to one). */
  readonly #services = new ServiceFrames();

  constructor(options: MajordomoPipelineOptions) {
    super();
    this.#o = resolveOptions('MajordomoPipeline', options, majordomoPipelineDefaults, {
      broker: rules.nonEmptyString,
      version: oneOf('0.1', '0.2'),
      timeoutMs: rules.positiveOrInfinity,
      sendHighWaterMark: rules.nonNegativeInteger,
      maxBufferedReplies: rules.positiveInteger,
    }) as ResolvedPipelineOptions; // the `broker` rule makes it present
    this.#log = componentLogger(options.logger, { component: 'mdp-pipeline', broker: this.#o.broker });
  }

  /** Open the DEALER and connect it to the broker. */
  protected async onStart(): Promise<void> {
    const socket = new zmq.Dealer({ linger: 0, sendHighWaterMark: this.#o.sendHighWaterMark, receiveHighWaterMark: 0 });
    this.#channel = new Channel(socket, { name: 'mdp-pipeline', logger: this.#log });
    applyConnectSecurity(socket, this.#o.security);
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
  send(service: string | Buffer, body: Frame | Frames): void {
    this.assertRunning();
    if (!(this.#channel as Channel<zmq.Dealer>).post(this.#encode(service, body))) throw new ClosedError('pipeline');
    this.#stats.requests++;
  }

  /** Queue a request and resolve once libzmq has taken it (back-pressure for large bursts). */
  async sendAsync(service: string | Buffer, body: Frame | Frames): Promise<void> {
    this.assertRunning();
    await (this.#channel as Channel<zmq.Dealer>).send(this.#encode(service, body));
    this.#stats.requests++;
  }

  #encode(service: string | Buffer, body: Frame | Frames): Frame[] {
    const frames = Array.isArray(body) ? (body as Frames) : [body as Frame];
    return encodeClientRequest(this.#o.version, this.#services.of(service), frames.length === 0 ? [EMPTY] : frames);
  }

  /**
   * The next reply. Rejects with core's `TimeoutError` after `timeoutMs` (default: the pipeline's
   * `timeoutMs`; pass `Infinity` to wait for ever), `AbortError` when `signal` fires,
   * `ClosedError` once the pipeline is closed. One reader at a time. (`attemptTimeoutMs` and
   * `retries` do not apply: the pipeline never resends.)
   */
  recv(options: RequestOptions = {}): Promise<PipelineReply> {
    try {
      this.assertRunning();
    } catch (err) {
      return Promise.reject(toError(err));
    }
    const queued = this.#inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#waiter !== undefined)
      return Promise.reject(new InvalidStateError('MajordomoPipeline: one recv() at a time'));
    const timeoutMs = options.timeoutMs ?? this.#o.timeoutMs;
    if (!rules.positiveOrInfinity.test(timeoutMs)) {
      return Promise.reject(invalidOption(RECV, 'timeoutMs', rules.positiveOrInfinity.must, timeoutMs));
    }
    return this.#wait(timeoutMs, options.signal);
  }

  /**
   * Wait for the next reply: a timer only for a finite `timeoutMs`, a listener only for a
   * `signal` (no AbortController per reply: at one reply per wait it was the pipeline's largest
   * cost of its own). A timeout or an abort clears the waiter synchronously, so a reply is never
   * handed to a waiter that has already given up.
   */
  #wait(timeoutMs: number, signal: AbortSignal | undefined): Promise<PipelineReply> {
    if (signal?.aborted === true) return Promise.reject(recvAborted(signal));
    const clock = this.#o.clock;
    return new Promise<PipelineReply>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const cleanup = (): void => {
        if (timer !== undefined) clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiter = undefined;
      };
      const onAbort = (): void => {
        cleanup();
        reject(recvAborted(signal as AbortSignal));
      };
      if (Number.isFinite(timeoutMs)) {
        timer = clock.setTimeout(() => {
          cleanup();
          reject(new TimeoutError(`${RECV} timed out after ${timeoutMs} ms (timeoutMs)`, { attempts: 0 }));
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
   * Every reply as it arrives. Leaving the loop (`break`) ends it and leaves the pipeline open;
   * `signal` makes the pending `next()` reject with `AbortError`; closing the pipeline ends the
   * loop quietly.
   */
  async *replies(options: { signal?: AbortSignal | undefined } = {}): AsyncGenerator<PipelineReply, void, undefined> {
    const recvOptions: RequestOptions = { timeoutMs: Number.POSITIVE_INFINITY, signal: options.signal };
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
    this.#stats.replies++;
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
