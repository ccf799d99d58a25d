/**
 * The socket wrapper every pattern is built on: exactly one receive loop and one FIFO send queue
 * per zeromq socket.
 *
 * zeromq.js allows one pending `send()` and one pending `receive()` per socket; a second throws
 * EBUSY. A `Channel` lets any number of callers `send()` concurrently: messages go into one FIFO
 * queue drained by a single pump, so per-caller order is kept and nothing races. While libzmq
 * accepts messages at once, the pump hands them over back to back in one async run (the batch);
 * when the socket is at its high-water mark the pump waits on libzmq and `send()` promises resolve
 * late, which back-pressures callers that await them.
 *
 * With `directSend` on a socket created with `sendTimeout: 0` (which never waits in libzmq:
 * zeromq.js hands a message over, or fails it with EAGAIN/EHOSTUNREACH, inside the `send()` call
 * itself), `send()` and `post()` hand the message over at once while nothing is queued, instead of
 * through the pump: the same order and the same errors, no async hop per message. A bind in
 * progress (EBUSY) sends that message and the ones after it through the pump as usual.
 *
 * Receiving: `start(handler)` runs the one receive loop and calls `handler` per message. A
 * handler that returns a promise is awaited before the next message is read (back-pressure);
 * errors it throws are logged and counted, and the loop goes on. `messages()` is the same loop as
 * an async iterator, for consumers that prefer pulling.
 */
import type * as zmq from 'zeromq';
import { Deque } from './deque.js';
import { ClosedError, InvalidStateError, toError } from './errors.js';
import type { Frames, Message } from './frames.js';
import { componentLogger, type Logger } from './logger.js';

/** The socket shape a channel needs (any zeromq v6 socket). */
export type ChannelSocket = zmq.Socket & Partial<zmq.Writable> & Partial<zmq.Readable<Message>>;

/** Options of `new Channel(socket, options)`. */
export interface ChannelOptions {
  /** Name used in log lines. @default the socket's type name */
  name?: string;
  /** Parent logger; the channel logs under a child. @default silent */
  logger?: Logger;
  /**
   * Called when a `post()`ed message fails to send (e.g. EHOSTUNREACH from a ROUTER with
   * `mandatory`). `send()` rejects its own promise instead. @default log at debug
   */
  onSendError?: (err: Error, message: Frames) => void;
  /**
   * Hand messages to libzmq inside `send()`/`post()` while nothing is queued, without the pump.
   * Only takes effect when the socket was created with `sendTimeout: 0`. For a socket on a
   * message-rate hot path (a broker's ROUTER). @default false
   */
  directSend?: boolean;
}

/** Counters, cheap to read at any time. */
export interface ChannelStats {
  /** Messages sent. */
  sent: number;
  /** Messages received by the receive loop. */
  received: number;
  /** Sends that failed (the message was dropped). */
  sendErrors: number;
  /** Messages whose handler threw or rejected (logged, the loop goes on). */
  handlerErrors: number;
}

interface Pending {
  message: Frames;
  resolve: (() => void) | undefined;
  reject: ((err: Error) => void) | undefined;
}

type ChannelState = 'open' | 'draining' | 'closed';

/**
 * One zeromq socket with the discipline zeromq.js needs: one send queue (sends are serialised, so
 * no `EBUSY`) and at most one receive loop (`start(handler)` or `messages()`). `close()` drains queued
 * sends for the socket's linger, then closes the socket; sends after that reject with
 * `ClosedError`, and a second receive loop throws `InvalidStateError`.
 */
export class Channel<TSocket extends ChannelSocket = ChannelSocket> {
  /** The socket this channel owns: it sends and receives on it, and closes it. */
  readonly socket: TSocket;
  readonly #stats: ChannelStats = { sent: 0, received: 0, sendErrors: 0, handlerErrors: 0 };
  readonly #log: Logger;
  readonly #onSendError: ((err: Error, message: Frames) => void) | undefined;
  readonly #queue = new Deque<Pending>(64);
  /** `directSend` on a `sendTimeout: 0` socket: sends settle inside `socket.send()`. */
  readonly #direct: boolean;
  /**
   * Messages `post()`ed straight to libzmq whose send promise has not run its reaction yet, oldest
   * first. Each of those promises was settled when `socket.send()` returned it (`sendTimeout: 0`),
   * so their reactions run in the order they were attached: each takes the head, and a failure
   * finds its message there without a closure per message.
   */
  readonly #posted = new Deque<Frames>(16);
  #state: ChannelState = 'open';
  #pumping: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #failure: Error | undefined;
  #drainWaiters: (() => void)[] = [];
  readonly #closedSignal: Promise<void>;
  #markClosed: () => void = () => undefined;

  constructor(socket: TSocket, options: ChannelOptions = {}) {
    this.socket = socket;
    this.#log = componentLogger(options.logger, {
      component: 'channel',
      channel: options.name ?? socket.constructor.name,
    });
    this.#onSendError = options.onSendError;
    this.#direct = options.directSend === true && (socket as { sendTimeout?: number }).sendTimeout === 0;
    this.#closedSignal = new Promise<void>((resolve) => {
      this.#markClosed = resolve;
    });
  }

  /** Messages queued and not yet handed to libzmq. */
  get queued(): number {
    return this.#queue.length;
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): ChannelStats {
    return { ...this.#stats };
  }

  /** Whether the channel has closed its socket. */
  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  /**
   * Queue `message` for sending. Resolves once libzmq has taken it; rejects with the socket's error
   * (e.g. EHOSTUNREACH) or with `ClosedError` if the channel closes first (the message still
   * queued, or the one libzmq was blocked on when the socket closed).
   */
  send(message: Frames): Promise<void> {
    if (this.#state !== 'open') return Promise.reject(new ClosedError('channel'));
    if (this.#direct && this.#pumping === undefined) {
      const sent = this.#sendNow(message);
      if (sent !== undefined) return sent.then(this.#onSent, this.#onSendRejected);
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ message, resolve, reject });
      this.#kick();
    });
  }

  /**
   * Queue `message` without a promise: the fire-and-forget form for brokers, where a failed send
   * (a vanished peer) is counted and reported to `onSendError`, never thrown. Returns false when
   * the channel is closed and the message was dropped.
   */
  post(message: Frames): boolean {
    if (this.#state !== 'open') return false;
    if (this.#direct && this.#pumping === undefined) {
      const sent = this.#sendNow(message);
      if (sent !== undefined) {
        this.#posted.push(message);
        sent.then(this.#onPosted, this.#onPostRejected);
        return true;
      }
    }
    this.#queue.push({ message, resolve: undefined, reject: undefined });
    this.#kick();
    return true;
  }

  /**
   * Hand `message` to libzmq now (direct mode, nothing queued). Returns the settled promise of
   * zeromq.js, a rejected one for a synchronous failure, or undefined when a bind in progress
   * blocks the socket (the caller then queues the message for the pump).
   */
  #sendNow(message: Frames): Promise<void> | undefined {
    try {
      return (this.socket as zmq.Writable & zmq.Socket).send(message as zmq.MessageLike[]);
    } catch (caught) {
      if (isBindInProgress(caught) && !this.socket.closed) return undefined;
      return Promise.reject(toError(caught));
    }
  }

  readonly #onSent = (): void => {
    this.#stats.sent++;
  };

  readonly #onPosted = (): void => {
    this.#posted.shift();
    this.#stats.sent++;
  };

  readonly #onPostRejected = (err: unknown): void => {
    const message = this.#posted.shift() as Frames;
    this.#onPostFailed(this.#sendFailure(err), message);
  };

  readonly #onSendRejected = (err: unknown): never => {
    this.#stats.sendErrors++;
    throw this.#sendFailure(err);
  };

  /**
   * The error a failed send settles with: the socket's own error (EHOSTUNREACH, ...), except for
   * the send that libzmq was blocked on when the socket closed, which zeromq.js fails with a bare
   * EAGAIN (ETERM when the context ends): that one is a `ClosedError` with the socket's error as
   * its cause, like every message still queued at close.
   */
  #sendFailure(caught: unknown): Error {
    const err = toError(caught);
    if (!this.socket.closed || !closedSocketCodes.has((err as { code?: unknown }).code)) return err;
    return new ClosedError('channel', { cause: err });
  }

  #onPostFailed(err: Error, message: Frames): void {
    this.#stats.sendErrors++;
    if (this.#onSendError !== undefined) this.#onSendError(err, message);
    else this.#log.debug({ err }, 'send failed');
  }

  #kick(): void {
    this.#pumping ??= this.#pump();
  }

  async #pump(): Promise<void> {
    const queue = this.#queue;
    const socket = this.socket as zmq.Writable & zmq.Socket;
    try {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        try {
          for (;;) {
            try {
              await socket.send(next.message as zmq.MessageLike[]);
              break;
            } catch (caught) {
              // A bind()/unbind() in progress blocks the socket for a moment: wait, then retry.
              if (!isBindInProgress(caught) || socket.closed) throw caught;
              await nextTurn();
            }
          }
          this.#stats.sent++;
          next.resolve?.();
        } catch (caught) {
          const err = this.#sendFailure(caught);
          this.#stats.sendErrors++;
          if (next.reject !== undefined) next.reject(err);
          else if (this.#onSendError !== undefined) this.#onSendError(err, next.message);
          else this.#log.debug({ err }, 'send failed');
          if (socket.closed) break;
        }
      }
    } finally {
      this.#pumping = undefined;
      if (this.#queue.length > 0 && !socket.closed) this.#kick();
      else this.#notifyDrained();
    }
  }

  #notifyDrained(): void {
    if (this.#drainWaiters.length === 0) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const waiter of waiters) waiter();
  }

  /**
   * Run the receive loop, calling `handler` for each inbound message. Resolves when the socket
   * closes. Only one loop may run per channel.
   */
  start(handler: (message: Message) => void | Promise<void>): Promise<void> {
    if (this.#loop !== undefined) throw new InvalidStateError('Channel: the receive loop is already running');
    this.#loop = this.#receiveLoop(handler);
    return this.#loop;
  }

  async #receiveLoop(handler: (message: Message) => void | Promise<void>): Promise<void> {
    const socket = this.socket as zmq.Readable<Message> & zmq.Socket;
    try {
      for (;;) {
        let message: Message;
        try {
          message = await socket.receive();
        } catch (caught) {
          if (socket.closed) break;
          // A bind()/unbind() in progress blocks the socket for a moment: wait, then read on.
          if (isBindInProgress(caught)) {
            await nextTurn();
            continue;
          }
          throw caught;
        }
        this.#stats.received++;
        try {
          const result = handler(message);
          if (result !== undefined) await result;
        } catch (caught) {
          this.#stats.handlerErrors++;
          this.#log.warn({ err: toError(caught) }, 'message handler threw; message dropped');
        }
      }
    } catch (caught) {
      const err = toError(caught);
      // Closing the socket from elsewhere ends the iterator with EAGAIN/ETERM on some versions.
      if (!socket.closed) {
        this.#failure = err;
        this.#log.error({ err }, 'receive loop failed');
      }
    }
  }

  /**
   * The receive loop as an async iterator. Breaking out of the `for await` is allowed and leaves
   * the socket open; only one reader may exist per channel.
   */
  messages(): AsyncIterableIterator<Message> {
    if (this.#loop !== undefined) throw new InvalidStateError('Channel: the receive loop is already running');
    const socket = this.socket as zmq.Readable<Message> & zmq.Socket;
    const stats = this.#stats;
    let done = false;
    this.#loop = Promise.resolve();
    const iterator: AsyncIterableIterator<Message> = {
      async next(): Promise<IteratorResult<Message>> {
        if (done || socket.closed) return { done: true, value: undefined };
        for (;;) {
          try {
            const value = await socket.receive();
            stats.received++;
            return { done: false, value };
          } catch (caught) {
            if (socket.closed) return { done: true, value: undefined };
            if (!isBindInProgress(caught)) throw caught;
            await nextTurn();
          }
        }
      },
      async return(): Promise<IteratorResult<Message>> {
        done = true;
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /**
   * Stop accepting sends, wait until every queued message has been handed to libzmq, then close.
   * With `timeoutMs`, close after that long even if libzmq has not taken everything (a socket with
   * no peer to send to, such as one whose handshake was refused, never takes it): what is still
   * queued then is dropped, as by `close()`.
   */
  async drain(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#state === 'open') this.#state = 'draining';
    if (this.#queue.length > 0 || this.#pumping !== undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#drainWaiters.push(resolve);
        if (options.timeoutMs !== undefined) timer = setTimeout(resolve, options.timeoutMs);
      });
      clearTimeout(timer);
    }
    await this.close();
  }

  /**
   * Close the socket. Messages still queued are dropped and their `send()` promises reject with
   * `ClosedError`; what libzmq already holds is flushed according to the socket's `linger`.
   * Idempotent; resolves when the receive loop and the pump have ended.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#state = 'closed';
    const dropped = this.#queue.clear();
    const closedError = new ClosedError('channel');
    for (const pending of dropped) pending.reject?.(closedError);
    if (dropped.length > 0) this.#log.debug({ dropped: dropped.length }, 'closed with messages queued');
    if (!this.socket.closed) this.socket.close();
    await Promise.allSettled([this.#loop, this.#pumping]);
    this.#notifyDrained();
    this.#markClosed();
  }

  /** Resolves once the channel has closed: `undefined`, or the error that ended the receive loop. */
  async closed(): Promise<void | Error> {
    await this.#closedSignal;
    return this.#failure;
  }

  /** Same as `close()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** The codes zeromq.js fails a pending send with when its socket or context closes under it. */
const closedSocketCodes: ReadonlySet<unknown> = new Set(['EAGAIN', 'ETERM', 'ENOTSOCK']);

/**
 * zeromq.js rejects `send()` and `receive()` with EBUSY while a `bind()` or `unbind()` on the same
 * socket is in progress. That is a transient state (a broker binding a second endpoint while peers
 * already talk to the first), not a failure of the loop.
 */
function isBindInProgress(caught: unknown): boolean {
  return (caught as { code?: unknown } | null)?.code === 'EBUSY';
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
