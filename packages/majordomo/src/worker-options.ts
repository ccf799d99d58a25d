/**
 * Options, handler context and status types of `MajordomoWorker`. Defaults are the book's
 * mdwrkapi: heartbeat 2500 ms, liveness 3, reconnect after 2500 ms (here the first step of a
 * capped, jittered exponential backoff).
 */
import {
  exponentialBackoff,
  oneOf,
  resolveOptions,
  rules,
  systemClock,
  type Clock,
  type ConnectedEvent,
  type DisconnectedEvent,
  type Frame,
  type Frames,
  type HandlerContext,
  type Logger,
  type OptionRule,
  type ReconnectingEvent,
  type RequestHandler,
  type ResolvedOptions,
  type RetryDelay,
  type SecurityOptions,
} from '@zpatterns/core';
import { inboundLimitDefaults } from './inbound-limits.js';
import type { MdpVersion } from './codec.js';

/** Options of `new MajordomoWorker(options)`; `majordomoWorkerDefaults` holds the defaults. */
export interface MajordomoWorkerOptions {
  /** Broker endpoint to connect to. Required. */
  broker: string;
  /** Service name to register with READY. Must not start with `mmi.` (reserved). Required. */
  service: string;
  /**
   * Answers each request: gets the body and a `MajordomoHandlerContext`, returns (or resolves
   * with) the reply body, one frame or several. A throw or rejection is handled by `errorReply`.
   * Without it, read the requests with `for await (const request of worker)`.
   * @default undefined (iterate the worker)
   */
  handler?: RequestHandler<MajordomoHandlerContext> | undefined;
  /** MDP version. @default '0.1' */
  version?: MdpVersion | undefined;
  /** Heartbeat interval; must match the broker's. @default 2500 */
  heartbeatIntervalMs?: number | undefined;
  /** Silent heartbeat intervals after which the broker is declared dead. @default 3 */
  liveness?: number | undefined;
  /**
   * Delay before reconnect attempt `n` after the broker was declared dead, or `null` to give up
   * (the worker then closes with core's `GaveUpError`). Attempts restart at 1 after a session in
   * which the broker was heard from.
   * @default exponentialBackoff({ initialMs: 2500, maxMs: 32000, factor: 2, jitter: 0.2 })
   */
  reconnectDelay?: RetryDelay | undefined;
  /**
   * Reply sent when the handler throws or rejects. Return frames to answer the client with an
   * application-defined error body. `undefined` (the default) sends no reply: the worker sends
   * DISCONNECT and registers again on a fresh socket, so the broker (any broker, including the
   * book's) gets it back as available, and the client times out and retries.
   * @default undefined
   */
  errorReply?: ((err: Error, request: Buffer[]) => Frame | Frames | undefined) | undefined;
  /** How long `close()` waits for the request in hand before abandoning it. @default 30000 */
  drainTimeoutMs?: number | undefined;
  /**
   * Linger of the socket on `close()`, so the last REPLY and DISCONNECT get out. On a live
   * connection libzmq flushes them in well under a millisecond; the linger only ever runs out while
   * the broker is unreachable (a worker reconnecting to a broker that is down), and then it holds
   * the process exit that long (zeromq.js warns past 500 ms), so keep it short. @default 250
   */
  lingerMs?: number | undefined;
  /**
   * Frames in one message from the broker at most (the broker's own bound); a message with more
   * is dropped, counted in `stats.oversize` and warned about: its request is not handled. @default 256
   */
  maxFramesPerMessage?: number | undefined;
  /**
   * Bytes in one message from the broker at most, all frames together (the broker's own bound);
   * dropped like `maxFramesPerMessage`. It is also the frame limit of the worker's socket: libzmq
   * drops the connection when a single bigger frame arrives. @default 16777216 (16 MiB)
   */
  maxMessageBytes?: number | undefined;
  /**
   * CURVE: this side's key pair and the broker's public key. Without it the connection is plain.
   * @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
  /** Time source for heartbeats and reconnect delays. @default systemClock */
  clock?: Clock | undefined;
}

/**
 * The worker's defaults: MDP/0.1, the book's heartbeat (2500 ms, liveness 3), reconnect after
 * 2.5 s doubling to 32 s with 20 % jitter, 30 s to drain on `close()`.
 */
export const majordomoWorkerDefaults = {
  version: '0.1' as MdpVersion,
  heartbeatIntervalMs: 2500,
  liveness: 3,
  reconnectDelay: exponentialBackoff({ initialMs: 2500, maxMs: 32_000, factor: 2, jitter: 0.2 }),
  drainTimeoutMs: 30_000,
  lingerMs: 250,
  maxFramesPerMessage: inboundLimitDefaults.maxFramesPerMessage,
  maxMessageBytes: inboundLimitDefaults.maxMessageBytes,
  clock: systemClock,
};

/** The worker's options after defaults are applied. */
export type ResolvedWorkerOptions = ResolvedOptions<MajordomoWorkerOptions, typeof majordomoWorkerDefaults> & {
  readonly broker: string;
  readonly service: string;
};

const serviceName: OptionRule = {
  must: 'a service name outside the reserved mmi. namespace',
  test: (v) => typeof v === 'string' && v !== '' && !v.startsWith('mmi.'),
};

export function resolveWorkerOptions(options: MajordomoWorkerOptions): ResolvedWorkerOptions {
  // The rules check `broker` and `service`, which have no default.
  return resolveOptions('MajordomoWorker', options, majordomoWorkerDefaults, {
    broker: rules.nonEmptyString,
    service: serviceName,
    handler: rules.function,
    version: oneOf('0.1', '0.2'),
    heartbeatIntervalMs: rules.positive,
    liveness: rules.positiveInteger,
    reconnectDelay: rules.function,
    errorReply: rules.function,
    drainTimeoutMs: rules.nonNegative,
    lingerMs: rules.nonNegative,
    maxFramesPerMessage: rules.positiveInteger,
    maxMessageBytes: rules.positiveInteger,
  }) as ResolvedWorkerOptions;
}

/** What a Majordomo handler gets besides the request body (core's `HandlerContext` and more). */
export interface MajordomoHandlerContext extends HandlerContext {
  /** The service this worker serves. */
  readonly service: string;
  /** The client's return address, as the broker gave it (opaque). */
  readonly client: Buffer;
  /** The MDP version of the session. */
  readonly version: MdpVersion;
  /**
   * MDP/0.2: send a PARTIAL reply now (the FINAL is what the handler returns). Throws
   * `MdpVersionError` on MDP/0.1.
   */
  partial(body: Frame | Frames): void;
  /**
   * Aborted when the request is abandoned: the session to the broker was lost, or `close()` ran
   * out of `drainTimeoutMs`.
   */
  readonly signal: AbortSignal;
}

/** One request of the iterator form: `for await (const req of worker) await req.reply(frames)`. */
export interface WorkerRequest extends MajordomoHandlerContext {
  /** The request body. */
  readonly body: Buffer[];
  /** Answer the request (one frame or several); the worker takes the next one only after this. */
  reply(body: Frame | Frames): Promise<void>;
  /** Give up on the request as if the handler had thrown `err` (see `errorReply`). */
  fail(err: Error): void;
}

/**
 * The worker's status events, from `worker.status()` (beside `started` and `closed`):
 * `connected` once the broker has answered the READY of a session (its first heartbeat or
 * request), `disconnected` when the session is lost (`silent`: the broker said nothing for
 * `heartbeatIntervalMs * liveness`; `disconnect`: it sent DISCONNECT; `error`: the handler failed
 * with no `errorReply`, or an oversize message came, so the worker left to register again), and
 * `reconnecting` before the next session. `peer` is the broker endpoint.
 */
export type WorkerStatus = ConnectedEvent | DisconnectedEvent | ReconnectingEvent;

/** Counters of one `MajordomoWorker`; `worker.stats` returns a fresh snapshot on every read. */
export interface WorkerStats {
  /** Sessions opened (sockets created, READY sent). */
  sessions: number;
  /** Requests received. */
  requests: number;
  /** Replies (FINAL) sent. */
  replies: number;
  /** PARTIAL replies sent (MDP/0.2). */
  partials: number;
  /** Handler calls that threw or rejected. */
  handlerErrors: number;
  /** HEARTBEATs sent to the broker. */
  heartbeatsSent: number;
  /** Messages from the broker that did not decode, or commands a worker does not expect. */
  malformed: number;
  /** Of `malformed`: over `maxFramesPerMessage` or `maxMessageBytes`. */
  oversize: number;
  /** Replies not sent because their session had ended. */
  discardedReplies: number;
  /** DISCONNECTs received from the broker. */
  disconnectsReceived: number;
  /** Sessions ended because the broker was silent `heartbeatIntervalMs * liveness`. */
  brokerExpiries: number;
}
