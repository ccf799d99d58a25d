/**
 * The Majordomo worker (the book's mdwrkapi, made robust): registers a service with the broker,
 * answers one request at a time with your handler, heartbeats (also while the handler runs),
 * reconnects on a fresh socket when the broker dies or says DISCONNECT, and drains on `close()`.
 * `start()` opens the first session (READY sent); the handler (or the `for await` loop) then
 * gets the requests.
 *
 *   worker DEALER                                   broker ROUTER
 *     | ["", "MDPW01", 0x01, service]      READY ----->  |
 *     | <----- REQUEST ["", "MDPW01", 0x02, client, "", body...]
 *     |        handler(body) ... HEARTBEAT <---> HEARTBEAT (every heartbeatIntervalMs, both ways)
 *     | ["", "MDPW01", 0x03, client, "", reply...]  REPLY ----->  |
 *     | ["", "MDPW01", 0x05]          DISCONNECT (on close) ----->  |
 *
 * States (one `transition()` logs every change):
 *   idle -> connecting -> ready <-> busy ; connecting|ready|busy -> backoff -> connecting
 *   any -> closing -> closed
 */
import {
  ClosedError,
  Component,
  deadline,
  GaveUpError,
  InvalidStateError,
  sleep,
  toError,
  type Frame,
  type Frames,
  type Logger,
  type RequestHandler,
} from '@zpatterns/core';
import {
  componentLogger,
  AsyncQueue,
  SpanKinds,
  startSpan,
  tracingActive,
  type TraceSpan,
} from '@zpatterns/core/internal';
import type { WorkerCommand } from './codec.js';
import { replyFrames } from './worker-frames.js';
import { HandlerContext, handlerFailure, isPromiseLike, queueHandler } from './worker-context.js';
import {
  resolveWorkerOptions,
  type MajordomoHandlerContext,
  type MajordomoWorkerOptions,
  type ResolvedWorkerOptions,
  type WorkerRequest,
  type WorkerStats,
  type WorkerStatus,
} from './worker-options.js';
import { InboundGuard } from './inbound-limits.js';
import { WorkerSession, type SessionEnd } from './worker-session.js';

/**
 * Where a `MajordomoWorker`'s connection to the broker is (`worker.state` gives the name; the
 * object's own lifecycle is `worker.lifecycle`): `idle` before `start()`, `connecting` (READY sent, waiting for the broker), `ready` (waiting for a
 * request), `busy` (the handler runs for `client`), `backoff` (the broker was lost; reconnect
 * attempt `attempt` after `delayMs`), then `closing` and `closed`.
 */
export type WorkerState =
  | { readonly state: 'idle' }
  | { readonly state: 'connecting' }
  | { readonly state: 'ready' }
  | { readonly state: 'busy'; readonly client: Buffer }
  | { readonly state: 'backoff'; readonly attempt: number; readonly delayMs: number }
  | { readonly state: 'closing' }
  | { readonly state: 'closed' };

/** `WorkerState` with the session each connected state runs on. */
type SessionState =
  | { readonly state: 'idle' }
  | { readonly state: 'connecting'; readonly session: WorkerSession }
  | { readonly state: 'ready'; readonly session: WorkerSession }
  | { readonly state: 'busy'; readonly session: WorkerSession; readonly client: Buffer }
  | { readonly state: 'backoff'; readonly attempt: number; readonly delayMs: number }
  | { readonly state: 'closing' }
  | { readonly state: 'closed' };

/**
 * The Majordomo worker (the book's mdwrkapi, made robust): registers `service` with the broker,
 * answers one request at a time with the `handler` option (or, without one, `for await` over the
 * worker), heartbeats also while the handler runs, reconnects on a fresh socket when the broker
 * dies or sends DISCONNECT, and drains the request in hand on `close()`.
 *
 * `new MajordomoWorker({ broker, service, handler })` checks the options (throws
 * `InvalidArgumentError`) and opens nothing. `start()` opens the first session and resolves once
 * its socket is connecting and READY is queued: from then on requests are served. A finite
 * `reconnectDelay` policy that runs out ends the worker with core's `GaveUpError` (`closed()`
 * resolves with it). `status()` reports `connected`, `disconnected` and `reconnecting`
 * (`WorkerStatus`).
 */
export class MajordomoWorker extends Component<WorkerStatus> implements AsyncIterable<WorkerRequest> {
  readonly #stats: WorkerStats = {
    sessions: 0,
    requests: 0,
    replies: 0,
    partials: 0,
    handlerErrors: 0,
    heartbeatsSent: 0,
    malformed: 0,
    oversize: 0,
    discardedReplies: 0,
    disconnectsReceived: 0,
    brokerExpiries: 0,
  };
  readonly #o: ResolvedWorkerOptions;
  readonly #log: Logger;
  /** Frame limits of every session's DEALER, one warning budget across them. */
  readonly #guard: InboundGuard;
  #state: SessionState = { state: 'idle' };
  readonly #handler: RequestHandler<MajordomoHandlerContext>;
  /** Without a `handler`: the requests for the `for await` loop. */
  readonly #queue: AsyncQueue<WorkerRequest> | undefined;
  #iterated = false;
  #session: WorkerSession | undefined;
  #sessionCount = 0;
  #loop: Promise<void> | undefined;
  #inHand: Promise<void> | undefined;
  #contextInHand: HandlerContext | undefined;
  #closing = false;
  #failure: Error | undefined;
  /** The attributes of every request's span (the same for each: made once). */
  readonly #spanAttributes: Readonly<Record<string, string>>;

  constructor(options: MajordomoWorkerOptions) {
    super();
    this.#o = resolveWorkerOptions(options);
    this.#spanAttributes = {
      'rpc.system': 'majordomo',
      'rpc.service': this.#o.service,
      'server.address': this.#o.broker,
    };
    this.#log = componentLogger(this.#o.logger, {
      component: 'mdp-worker',
      service: this.#o.service,
      broker: this.#o.broker,
    });
    this.#guard = new InboundGuard(this.#o, this.#log, this.#o.clock);
    if (options.handler !== undefined) {
      this.#handler = options.handler;
    } else {
      this.#queue = new AsyncQueue<WorkerRequest>();
      this.#handler = queueHandler(this.#queue);
    }
  }

  /** Open the first session (fresh DEALER, READY queued) and start the session loop. */
  protected async onStart(): Promise<void> {
    const first = this.#open();
    this.#loop = this.#run(first);
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): WorkerStats {
    return { ...this.#stats };
  }

  /** The current state (read-only snapshot). */
  get state(): WorkerState['state'] {
    return this.#state.state;
  }

  /**
   * The iterator form, for a worker made without a `handler`: each request must be answered with
   * `reply()` (or `fail()`) before the next arrives. The loop ends when the worker closes (with
   * its error, when it stopped on its own); leaving the loop closes the worker. Throws
   * `InvalidStateError` for a worker with a `handler`, or when iterated twice.
   */
  [Symbol.asyncIterator](): AsyncIterator<WorkerRequest> {
    const queue = this.#queue;
    if (queue === undefined) throw new InvalidStateError('MajordomoWorker: a worker with a handler cannot be iterated');
    if (this.#iterated) throw new InvalidStateError('MajordomoWorker: iterated already');
    this.#iterated = true;
    return {
      next: () => queue.next(),
      return: async () => {
        await queue.return();
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  #transition(next: SessionState): void {
    const from = this.#state.state;
    this.#state = next;
    if (from !== next.state && this.#log.isLevelEnabled('debug')) this.#log.debug({ from, to: next.state }, 'state');
  }

  get #isClosing(): boolean {
    return this.#closing || this.closeSignal.aborted;
  }

  /** The session loop: single flight by construction, one session at a time. */
  async #run(first: WorkerSession): Promise<void> {
    let attempt = 0;
    let disconnectStreak = 0;
    /** Sessions lost since the broker was last heard: the `attempt` of `reconnecting`. */
    let failures = 0;
    let next: WorkerSession | undefined = first;
    for (;;) {
      // One request at a time: never register again while a handler from the last session runs.
      if (this.#inHand !== undefined) await this.#inHand;
      if (this.#isClosing) return;
      let session: WorkerSession;
      try {
        session = next ?? this.#open();
        next = undefined;
      } catch (caught) {
        // A bad endpoint or a socket that cannot be created: nothing to retry.
        const err = toError(caught);
        this.#log.error({ err }, 'cannot connect to the broker; closing');
        this.#stopWith(err);
        return;
      }
      const end: SessionEnd = await session.ended;
      if (this.#session === session) this.#session = undefined;
      if (end.reason === 'close' || this.#isClosing) return;
      this.#contextInHand?.abort(new ClosedError('session to the broker'));
      if (session.heard) {
        attempt = 0;
        failures = 0;
      }
      failures++;
      const peer = this.#o.broker;
      let delayMs: number | null;
      switch (end.reason) {
        case 'silent':
          this.#log.warn({ session: session.id, silentMs: end.silentMs }, 'broker silent, reconnecting');
          this.emit({ type: 'disconnected', peer, reason: 'silent', silentMs: end.silentMs, session: session.id });
          disconnectStreak = 0;
          attempt++;
          delayMs = this.#o.reconnectDelay(attempt);
          break;
        case 'disconnect':
          this.#log.info({ session: session.id }, 'DISCONNECT from broker, registering again');
          this.emit({ type: 'disconnected', peer, reason: 'disconnect', session: session.id });
          // 7/MDP: reconnect at once. A broker that keeps refusing us gets backoff, not a tight loop.
          disconnectStreak = session.served > 0 ? 1 : disconnectStreak + 1;
          delayMs = disconnectStreak <= 1 ? 0 : this.#o.reconnectDelay(disconnectStreak - 1);
          break;
        case 'error':
          this.emit({ type: 'disconnected', peer, reason: 'error', session: session.id });
          disconnectStreak = 0;
          delayMs = 0;
          break;
      }
      if (delayMs === null) {
        this.#log.error({ attempts: failures }, 'reconnect policy gave up; closing');
        this.#stopWith(new GaveUpError('MajordomoWorker: reconnectDelay', failures));
        return;
      }
      this.#transition({ state: 'backoff', attempt, delayMs });
      this.emit({ type: 'reconnecting', peer, attempt: failures, delayMs });
      if (delayMs > 0) await sleep(delayMs, { clock: this.#o.clock, signal: this.closeSignal }).catch(() => undefined);
    }
  }

  #open(): WorkerSession {
    const id = ++this.#sessionCount;
    const session = new WorkerSession(id, this.#o, this.#log, this.#stats, this.#guard, {
      request: this.#onRequest,
      command: this.#onCommand,
    });
    this.#session = session;
    this.#transition({ state: 'connecting', session });
    return session;
  }

  /** The first command of a session from the broker: it is connected (`ready`). */
  #heardFirst(session: WorkerSession): void {
    const state = this.#state;
    if (state.state === 'connecting' && state.session === session) {
      this.#transition(session.readyState);
      this.emit({ type: 'connected', peer: this.#o.broker, session: session.id });
    }
  }

  readonly #onRequest = (session: WorkerSession, client: Buffer, body: Buffer[]): void => {
    if (this.#state !== session.readyState) {
      this.#heardFirst(session);
      const now = this.#state;
      if (now !== session.readyState) {
        this.#stats.malformed++;
        this.#log.warn({ session: session.id, state: now.state }, 'REQUEST while not ready dropped');
        return;
      }
    }
    this.#dispatch(session, client, body);
  };

  readonly #onCommand = (session: WorkerSession, command: WorkerCommand): void => {
    this.#heardFirst(session);
    switch (command.type) {
      case 'heartbeat':
        return;
      case 'disconnect':
        this.#stats.disconnectsReceived++;
        session.end({ reason: 'disconnect' });
        return;
      case 'request':
        // Unreachable: the session hands every REQUEST to `#onRequest`.
        this.#onRequest(session, command.client, command.body);
        return;
      case 'ready':
      case 'reply':
        this.#stats.malformed++;
        this.#log.warn({ session: session.id, command: command.type }, 'unexpected command from broker dropped');
        return;
    }
  };

  #dispatch(session: WorkerSession, client: Buffer, body: Buffer[]): void {
    this.#stats.requests++;
    this.#transition({ state: 'busy', session, client });
    const context = new HandlerContext(this.#o, client, session, this.#stats);
    this.#contextInHand = context;
    // With OpenTelemetry installed and a tracer provider registered: one SERVER span per request.
    let span = tracingActive()
      ? startSpan('@zpatterns/majordomo', this.#o.service, SpanKinds.server, this.#spanAttributes)
      : undefined;
    let result: Frames | Frame | undefined | PromiseLike<Frames | Frame | undefined>;
    try {
      result = this.#handler(body, context);
    } catch (caught) {
      result = handlerFailure(caught, this.#o, this.#stats, this.#log, session.id, body, span);
      span = undefined;
    }
    // A synchronous handler's reply goes out now: no promise and no extra turn per request.
    if (!isPromiseLike(result)) {
      void this.#finish(session, client, result, context, span); // a leave in progress is the request in hand
      return;
    }
    const handled = this.#settle(session, client, body, context, span, result);
    // The request may have ended already (the session was lost and the next one took over).
    if (this.#contextInHand === context) this.#inHand = handled;
  }

  /** Wait for an asynchronous handler's reply, then finish the request as `#finish` does. */
  async #settle(
    session: WorkerSession,
    client: Buffer,
    body: Buffer[],
    context: HandlerContext,
    span: TraceSpan | undefined,
    pending: PromiseLike<Frames | Frame | undefined>,
  ): Promise<void> {
    let reply: Frames | Frame | undefined;
    try {
      reply = await pending;
    } catch (caught) {
      reply = handlerFailure(caught, this.#o, this.#stats, this.#log, session.id, body, span);
      span = undefined;
    }
    const leaving = this.#finish(session, client, reply, context, span);
    if (leaving !== undefined) await leaving;
  }

  /**
   * Send the reply of the request in hand and end it; without a reply to give, leave the session
   * (the promise of that, which ends the request when done).
   */
  #finish(
    session: WorkerSession,
    client: Buffer,
    reply: Frames | Frame | undefined,
    context: HandlerContext,
    span: TraceSpan | undefined,
  ): Promise<void> | undefined {
    if (session.isEnded) {
      this.#stats.discardedReplies++;
      this.#log.info({ session: session.id }, 'reply discarded: the session to the broker ended while the handler ran');
      this.#release(context, span);
      return undefined;
    }
    let message: Buffer[] | undefined;
    if (reply !== undefined) {
      try {
        message = replyFrames(this.#o.version, client, reply, true);
      } catch (caught) {
        this.#stats.handlerErrors++;
        this.#log.warn({ err: toError(caught), session: session.id }, 'handler reply is not frames; no reply sent');
      }
    }
    if (message === undefined) {
      // No reply to give: leave and register again, so the broker counts us as available.
      const leaving = session.leave({ reason: 'error' }, this.#o.lingerMs).finally(() => this.#release(context, span));
      if (this.#contextInHand === context) this.#inHand = leaving;
      return leaving;
    }
    session.post(message);
    session.served++;
    this.#stats.replies++;
    const state = this.#state;
    if (state.state === 'busy' && state.session === session) this.#transition(session.readyState);
    this.#release(context, span);
    return undefined;
  }

  /** The request of `context` is over: end its span, clear it as the request in hand. */
  #release(context: HandlerContext, span: TraceSpan | undefined): void {
    span?.end();
    if (this.#contextInHand === context) {
      this.#contextInHand = undefined;
      this.#inHand = undefined;
    }
  }

  /**
   * Drain and close (on `close()`): finish the request in hand (up to `drainTimeoutMs`) and send
   * its reply, send DISCONNECT, close the socket.
   */
  protected async onClose(): Promise<void> {
    const from = this.#state.state;
    this.#closing = true;
    this.#transition({ state: 'closing' });
    if (from !== 'idle') {
      if (this.#inHand !== undefined) {
        try {
          await deadline(this.#inHand, { timeoutMs: this.#o.drainTimeoutMs, clock: this.#o.clock });
        } catch {
          this.#log.warn(
            { drainTimeoutMs: this.#o.drainTimeoutMs },
            'request in hand still running after drainTimeoutMs; abandoned',
          );
          this.#contextInHand?.abort(new ClosedError('worker'));
        }
      }
      const session = this.#session;
      if (session !== undefined && !session.isEnded) await session.leave({ reason: 'close' }, this.#o.lingerMs);
      await this.#loop;
    }
    this.#transition({ state: 'closed' });
    if (this.#failure === undefined) this.#queue?.end();
    else this.#queue?.end(this.#failure);
  }

  /** Stop on our own: `closed()` resolves with `error`, a `for await` loop throws it. */
  #stopWith(error: Error): void {
    this.#failure = error;
    void this.fail(error);
  }
}
