/**
 * `FreelanceServer`: one ROUTER bound to one endpoint, its routing id set to its public endpoint
 * (10/FLP). Answers `PING` with `PONG`, runs an async handler per request (many at once, replies in
 * any order) and echoes the control frame. Malformed and oversize input is logged, counted and
 * dropped; it never stops the server.
 */
import * as zmq from 'zeromq';
import {
  Component,
  NotStartedError,
  ProtocolError,
  invalidOption,
  replyFrames,
  resolveOptions,
  rules,
  toError,
  type DrainedEvent,
  type Frame,
  type Frames,
  type HandlerContext,
  type Logger,
  type Message,
  type RequestHandler,
  type ResolvedOptions,
  type SaturatedEvent,
  type SecurityOptions,
  systemClock,
} from '@zpatterns/core';
import {
  applyBindSecurity,
  Channel,
  componentLogger,
  describe,
  frameEquals,
  type ServerSecurity,
  failSpan,
  SpanKinds,
  startSpan,
  WarningLimiter,
  type TraceSpan,
} from '@zpatterns/core/internal';
import { FreelanceBindError } from './errors.js';
import { checkBindEndpoint, concreteBindEndpoint, defaultPublicEndpoint } from './endpoint.js';
import { encodePong, encodeReply, PING, serverInboundProblem } from './codec.js';

/**
 * What a `FreelanceServer` handler gets beside the request body: core's `HandlerContext` (its
 * `signal` aborts when the server closes) and the request's envelope.
 */
export interface FreelanceHandlerContext extends HandlerContext {
  /** The client's routing id (binary). */
  readonly peer: Buffer;
  /** The request's control frame, as received. */
  readonly control: Buffer;
}

/** Options of `new FreelanceServer(options)`; `freelanceServerDefaults` holds the defaults. */
export interface FreelanceServerOptions {
  /** Endpoint to bind. `tcp://host:*` picks a free port before binding (see `freeTcpEndpoint`). */
  bind: string;
  /**
   * Public endpoint, the server's routing id: what clients pass to `connect`. @default the bound
   * endpoint, with a wildcard host (`*`, `0.0.0.0`) written `localhost` as in the book's flserver3
   */
  endpoint?: string | undefined;
  /**
   * Serves requests: the reply is what it returns, one frame or several (the control frame is
   * added by the server). @default echo: the reply is the request body
   */
  handler?: RequestHandler<FreelanceHandlerContext> | undefined;
  /**
   * Requests handled at once; past it the server stops reading (back-pressure) and reports
   * `saturated`. @default 1000
   */
  maxConcurrent?: number | undefined;
  /**
   * Largest accepted request, all frames together, in bytes; libzmq also drops the connection of a
   * peer that announces a larger frame, before reading it. @default 16 MiB
   */
  maxMessageBytes?: number | undefined;
  /** Most frames accepted in one request (routing id and control included). @default 1024 */
  maxFramesPerMessage?: number | undefined;
  /** Socket linger on close, ms. @default 0 */
  lingerMs?: number | undefined;
  /**
   * CURVE: the server's key pair and who may connect (`authorize`, checked by ZAP); plain clients
   * are then refused. @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
}

/** Where a started `FreelanceServer` is reached (see `endpoints`). */
export interface FreelanceServerEndpoints {
  /** The public endpoint, which is also the server's routing id: what clients list in `servers`. */
  readonly clients: string;
  /** The endpoint bound (for `tcp://host:*`, with the port picked). */
  readonly bound: string;
}

/**
 * The server's defaults: up to 1000 requests in the handler at once, 16 MiB and 1024 frames per message at most.
 */
export const freelanceServerDefaults = {
  maxConcurrent: 1000,
  maxMessageBytes: 16 * 1024 * 1024,
  maxFramesPerMessage: 1024,
  lingerMs: 0,
} as const satisfies Partial<FreelanceServerOptions>;

/** Counters of one `FreelanceServer`, as a snapshot (see `stats`). */
export interface FreelanceServerStats {
  /** PINGs answered with PONG. */
  pings: number;
  /** Requests handed to the handler. */
  requests: number;
  /** Replies sent. */
  replies: number;
  /** Messages that were not 10/FLP (an empty control frame): dropped. */
  malformed: number;
  /** Messages over `maxFramesPerMessage` or `maxMessageBytes`: dropped. */
  oversize: number;
  /** Requests whose handler threw or rejected: dropped, no reply. */
  handlerErrors: number;
}

/**
 * The server's status events, beside `started` and `closed` (see `status()`): `saturated` when
 * `maxConcurrent` requests are in the handler (`queued`, `limit: maxConcurrent`) and the server
 * stops reading (clients' requests queue up, then time out: add servers or raise
 * `maxConcurrent`), `drained` once the handlers in flight are down to half of `maxConcurrent`.
 */
export type FreelanceServerStatus = SaturatedEvent | DrainedEvent;

const echo: RequestHandler<FreelanceHandlerContext> = (body) => body;
const serverDefaults = { ...freelanceServerDefaults, handler: echo };

/** The options with every default applied. */
type ResolvedServerOptions = ResolvedOptions<FreelanceServerOptions, typeof serverDefaults>;
const BIND_ATTEMPTS = 5;

/**
 * A Freelance (10/FLP) server: one ROUTER whose routing id is its public endpoint. It answers
 * `PING` with `PONG`, runs your async handler for each request (many at once, replies in any
 * order) and echoes the request's control frame. Malformed or oversize input is logged, counted
 * and dropped. `new FreelanceServer(options)` validates the options (`InvalidArgumentError`)
 * and opens nothing; `start()` binds and resolves once the server is bound and serving ("ready"),
 * or rejects with `FreelanceBindError` when it cannot bind. `await FreelanceServer.start(options)`
 * does both.
 */
export class FreelanceServer extends Component<FreelanceServerStatus> {
  readonly #stats: FreelanceServerStats = {
    pings: 0,
    requests: 0,
    replies: 0,
    malformed: 0,
    oversize: 0,
    handlerErrors: 0,
  };
  readonly #options: ResolvedServerOptions;
  /** The `bind` option. */
  readonly #bind: string;
  #endpoints: FreelanceServerEndpoints | undefined;
  #channel: Channel<zmq.Router> | undefined;
  /** CURVE + ZAP of the socket, when `security` is set. */
  #guard: ServerSecurity | undefined;
  readonly #handler: RequestHandler<FreelanceHandlerContext>;
  #log: Logger;
  /** Warnings about peers' bad messages: at most 10 a second (every one is counted). */
  #warnings: WarningLimiter;
  readonly #maxConcurrent: number;
  readonly #maxBytes: number;
  readonly #maxFrames: number;
  #inFlight = 0;
  #saturated = false;
  #slot: (() => void) | undefined;
  /** The default handler: the reply is the request as received, so no handler call or new frames. */
  readonly #echo: boolean;
  /** The attributes of every request's SERVER span (with OpenTelemetry installed). */
  #spanAttributes: Record<string, string> = { 'rpc.system': 'freelance', 'server.address': '' };

  constructor(options: FreelanceServerOptions) {
    super();
    // Required, so resolveOptions (which checks only what is given or defaulted) cannot see it missing.
    if (!rules.nonEmptyString.test(options.bind)) {
      throw invalidOption('FreelanceServer', 'bind', rules.nonEmptyString.must, options.bind);
    }
    const o = resolveOptions('FreelanceServer', options, serverDefaults, {
      maxConcurrent: rules.positiveInteger,
      maxMessageBytes: rules.positiveInteger,
      maxFramesPerMessage: rules.positiveInteger,
      lingerMs: rules.nonNegative,
      handler: rules.function,
    });
    this.#bind = options.bind; // checked: a non-empty string
    checkBindEndpoint(this.#bind);
    this.#options = o;
    this.#handler = o.handler;
    this.#echo = o.handler === echo;
    this.#maxConcurrent = o.maxConcurrent;
    this.#maxBytes = o.maxMessageBytes;
    this.#maxFrames = o.maxFramesPerMessage;
    this.#log = componentLogger(o.logger, { component: 'freelance-server' });
    this.#warnings = new WarningLimiter(this.#log, systemClock, 10);
  }

  /**
   * Where the server is reached, known once `start()` has bound: `clients` is its public endpoint,
   * also its routing id (what clients list in `servers`), `bound` the endpoint it bound (a
   * `tcp://host:*` with its port picked). Throws `NotStartedError` before that.
   */
  get endpoints(): FreelanceServerEndpoints {
    if (this.#endpoints === undefined) throw new NotStartedError('FreelanceServer');
    return this.#endpoints;
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): FreelanceServerStats {
    return { ...this.#stats };
  }

  /** Pick the port (for `tcp://host:*`), set the routing id, bind, and start serving. */
  protected override async onStart(): Promise<void> {
    const options = this.#options;
    const wildcardPort = /:\*$/.test(this.#bind);
    for (let attempt = 1; ; attempt++) {
      const bound = await concreteBindEndpoint(this.#bind);
      const endpoint = options.endpoint ?? defaultPublicEndpoint(bound);
      const router = new zmq.Router({
        routingId: endpoint,
        linger: options.lingerMs,
        mandatory: false,
        // A non-mandatory ROUTER never waits to send (it drops at the high-water mark), so a zero
        // send timeout changes nothing on the wire and lets the channel hand replies over at once.
        sendTimeout: 0,
      });
      const guard = applyBindSecurity(router, options.security, options.logger, this.#maxBytes);
      try {
        await guard?.ready();
        await router.bind(bound);
      } catch (caught) {
        router.close();
        await guard?.release();
        const inUse = (caught as { code?: unknown }).code === 'EADDRINUSE';
        // A port picked for `tcp://host:*` can be taken before we bind it: pick another.
        if (!(wildcardPort && inUse && attempt < BIND_ATTEMPTS)) {
          throw new FreelanceBindError(bound, { cause: caught });
        }
        continue;
      }
      this.#endpoints = Object.freeze({ clients: endpoint, bound });
      this.#spanAttributes = { 'rpc.system': 'freelance', 'server.address': endpoint };
      this.#guard = guard;
      this.#log = componentLogger(options.logger, { component: 'freelance-server', endpoint });
      this.#warnings = new WarningLimiter(this.#log, systemClock, 10);
      const channel = new Channel(router, { name: 'freelance-server', logger: this.#log, directSend: true });
      this.#channel = channel;
      void channel.start((message) => this.#onMessage(channel, message)).then(() => this.#loopEnded(channel));
      return;
    }
  }

  /** The receive loop ended: after `close()` that is expected, otherwise the server fails with its error. */
  async #loopEnded(channel: Channel<zmq.Router>): Promise<void> {
    if (channel.socket.closed) return;
    await channel.close();
    const error = await channel.closed();
    if (error !== undefined) void this.fail(error);
  }

  /** Requests being handled now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  #onMessage(channel: Channel<zmq.Router>, message: Message): void | Promise<void> {
    if (message.length > this.#maxFrames || totalBytes(message) > this.#maxBytes) {
      this.#oversize(message);
      return;
    }
    // 10/FLP read in place (`decodeServerInbound`'s check, without an object per message).
    const problem = serverInboundProblem(message);
    if (problem !== undefined) {
      this.#malformed(message, new ProtocolError(problem));
      return;
    }
    const [peer, control] = message as [Buffer, Buffer];
    if (frameEquals(control, PING)) {
      this.#stats.pings++;
      channel.post(encodePong(peer));
      return;
    }
    this.#stats.requests++;
    const span = startSpan('@zpatterns/freelance', 'freelance', SpanKinds.server, this.#spanAttributes);
    if (this.#echo) {
      // The default handler: the reply `[peer][control][body...]` is the request as received.
      if (channel.post(message)) this.#stats.replies++;
      span?.end();
      return;
    }
    this.#handle(peer, control, message.slice(2), span);
    if (this.#inFlight >= this.#maxConcurrent) {
      if (!this.#saturated) {
        this.#saturated = true;
        this.#log.warn({ inFlight: this.#inFlight, maxConcurrent: this.#maxConcurrent }, 'saturated: reading paused');
        this.emit({ type: 'saturated', queued: this.#inFlight, limit: this.#maxConcurrent });
      }
      return new Promise<void>((resolve) => (this.#slot = resolve));
    }
  }

  #oversize(message: Message): void {
    this.#stats.oversize++;
    this.#warnings.warn(
      { peer: message[0]?.toString('hex'), frames: message.length, bytes: totalBytes(message) },
      'oversize message dropped',
    );
  }

  #malformed(message: Message, err: Error): void {
    this.#stats.malformed++;
    this.#warnings.warn(
      { peer: message[0]?.toString('hex'), err, frames: describe(message) },
      'malformed message dropped',
    );
  }

  /** Run the handler for one request: a synchronous result is answered at once, a promise when it settles. */
  #handle(peer: Buffer, control: Buffer, body: Buffer[], span: TraceSpan | undefined): void {
    this.#inFlight++;
    // A synchronous handler is answered here, without a promise per request.
    let result: Frame | Frames | Promise<Frame | Frames>;
    try {
      result = this.#handler(body, { signal: this.closeSignal, peer, control });
    } catch (caught) {
      this.#failed(peer, caught, span);
      this.#done();
      return;
    }
    if (!isPromiseLike(result)) {
      this.#reply(peer, control, result, span);
      this.#done();
      return;
    }
    void this.#serve(peer, control, result, span);
  }

  async #serve(
    peer: Buffer,
    control: Buffer,
    pending: Promise<Frame | Frames>,
    span: TraceSpan | undefined,
  ): Promise<void> {
    try {
      this.#reply(peer, control, await pending, span);
    } catch (caught) {
      this.#failed(peer, caught, span);
    } finally {
      this.#done();
    }
  }

  #reply(peer: Buffer, control: Buffer, reply: Frame | Frames, span: TraceSpan | undefined): void {
    if (this.#channel?.post(encodeReply(peer, control, replyFrames(reply))) === true) this.#stats.replies++;
    span?.end();
  }

  #failed(peer: Buffer, caught: unknown, span: TraceSpan | undefined): void {
    if (span !== undefined) failSpan(span, caught);
    this.#stats.handlerErrors++;
    this.#log.warn({ peer: peer.toString('hex'), err: toError(caught) }, 'handler failed; request dropped');
  }

  #done(): void {
    this.#inFlight--;
    if (this.#saturated && this.#inFlight <= Math.floor(this.#maxConcurrent / 2)) {
      this.#saturated = false;
      this.#log.info({ inFlight: this.#inFlight }, 'drained');
      this.emit({ type: 'drained', queued: this.#inFlight });
    }
    const slot = this.#slot;
    if (slot !== undefined && this.#inFlight < this.#maxConcurrent) {
      this.#slot = undefined;
      slot();
    }
  }

  /** Stop serving and close the socket (handlers still running are not awaited; their replies are dropped). */
  protected override async onClose(): Promise<void> {
    this.#slot?.();
    await this.#channel?.close();
    await this.#guard?.release();
    this.#log.debug({ stats: this.#stats }, 'closed');
  }
}

function isPromiseLike<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function totalBytes(message: Message): number {
  let sum = 0;
  for (const f of message) sum += f.length;
  return sum;
}
