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
  ClosedError,
  Component,
  InvalidStateError,
  invalidOption,
  resolveOptions,
  rules,
  oneOf,
  systemClock,
  toError,
  type Clock,
  type Frame,
  type Frames,
  type Logger,
  type RequestOptions,
  type ResolvedOptions,
  type SecurityOptions,
} from '@zpatterns/core';
import { applyConnectSecurity, Channel, componentLogger, EMPTY, Deque } from '@zpatterns/core/internal';
import { decodeClientReply, encodeClientRequest, type MdpVersion } from './codec.js';
import { RecvWait, recvAborted, ReplyIterator, type ReaderPort, type ReplyReader } from './pipeline-readers.js';
import { ServiceFrames } from './service-frame.js';

const RECV = 'MajordomoPipeline: recv';

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
  /** Requests sent (counted when queued for the socket). */
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
  /** The one `recv()` or `replies()` waiting for a reply. */
  #reader: ReplyReader<PipelineReply> | undefined;
  /** What the readers need of this pipeline. */
  readonly #port: ReaderPort<PipelineReply> = {
    assertRunning: () => this.assertRunning(),
    shift: () => this.#inbox.shift(),
    wait: (reader) => {
      if (this.#reader !== undefined) throw new InvalidStateError('MajordomoPipeline: one recv() at a time');
      this.#reader = reader;
    },
    unwait: (reader) => {
      if (this.#reader === reader) this.#reader = undefined;
    },
  };
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
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.fail(new ClosedError('pipeline'));
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

  /**
   * Queue a request and resolve once libzmq has taken it (back-pressure for large bursts). Rejects
   * (never throws) with `NotStartedError` or `ClosedError`. The channel's own promise, not one of
   * an `async` function around it: one promise and one hop fewer per request.
   */
  sendAsync(service: string | Buffer, body: Frame | Frames): Promise<void> {
    let frames: Frame[];
    try {
      this.assertRunning();
      frames = this.#encode(service, body);
    } catch (err) {
      return Promise.reject(toError(err));
    }
    const sent = (this.#channel as Channel<zmq.Dealer>).send(frames);
    this.#stats.requests++; // counted when queued, as by send()
    return sent;
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
    if (this.#reader !== undefined)
      return Promise.reject(new InvalidStateError('MajordomoPipeline: one recv() at a time'));
    const timeoutMs = options.timeoutMs ?? this.#o.timeoutMs;
    if (!rules.positiveOrInfinity.test(timeoutMs)) {
      return Promise.reject(invalidOption(RECV, 'timeoutMs', rules.positiveOrInfinity.must, timeoutMs));
    }
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(recvAborted(signal));
    // A timer only for a finite `timeoutMs`, a listener only for a `signal`.
    const wait = new RecvWait<PipelineReply>(this.#port, this.#o.clock, timeoutMs, signal);
    this.#reader = wait;
    return wait.promise;
  }

  /**
   * Every reply as it arrives. Leaving the loop (`break`) ends it and leaves the pipeline open;
   * `signal` makes the pending `next()` reject with `AbortError`; closing the pipeline ends the
   * loop quietly. Only one reader (this loop, or a `recv()`) waits at a time.
   */
  replies(options: { signal?: AbortSignal | undefined } = {}): AsyncGenerator<PipelineReply, void, undefined> {
    return new ReplyIterator<PipelineReply>(this.#port, options.signal);
  }

  readonly #onMessage = (message: Buffer[]): void => {
    const reply = decodeClientReply(this.#o.version, message);
    if (typeof reply === 'string') {
      this.#stats.malformed++;
      this.#log.warn({ reason: reply, frames: message.length }, 'malformed reply dropped');
      return;
    }
    this.#stats.replies++;
    const reader = this.#reader;
    if (reader !== undefined) {
      this.#reader = undefined;
      reader.deliver(reply);
      return;
    }
    if (this.#inbox.length >= this.#o.maxBufferedReplies) {
      this.#inbox.shift();
      this.#stats.dropped++;
    }
    this.#inbox.push(reply);
  };
}
