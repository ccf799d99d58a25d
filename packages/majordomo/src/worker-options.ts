/**
 * Options, handler and status types of `MajordomoWorker`. Defaults are the book's mdwrkapi:
 * heartbeat 2500 ms, liveness 3, reconnect after 2500 ms (here the first step of a capped,
 * jittered exponential backoff).
 */
import {
  exponentialBackoff,
  systemClock,
  type Clock,
  type Frame,
  type Logger,
  type RetryDelay,
  type SecurityOptions,
  definedOnly,
} from '@zpatterns/core';
import { checkCount, checkPositive } from './client-options.js';
import { MajordomoOptionsError } from './errors.js';
import { inboundLimitDefaults } from './inbound-limits.js';
import type { MdpVersion } from './codec.js';

/** Options of `new MajordomoWorker(options)`; `majordomoWorkerDefaults` holds the defaults. */
export interface MajordomoWorkerOptions {
  /** Broker endpoint to connect to. Required. */
  broker: string;
  /** Service name to register with READY. Must not start with `mmi.` (reserved). Required. */
  service: string;
  /**
   * Answers each request: gets the body and a context, returns (or resolves with) the reply body.
   * A throw or rejection is handled by `errorReply`. Without it, read the requests with
   * `for await (const request of worker)`. @default undefined (iterate the worker)
   */
  handler?: RequestHandler | undefined;
  /** MDP version. @default '0.1' */
  version?: MdpVersion;
  /** Heartbeat interval; must match the broker's. @default 2500 */
  heartbeatIntervalMs?: number;
  /** Silent heartbeat intervals after which the broker is declared dead. @default 3 */
  liveness?: number;
  /**
   * Delay before reconnect attempt `n` after the broker was declared dead, or `null` to give up
   * (the worker then closes with `WorkerGaveUpError`). Attempts restart at 1 after a session in
   * which the broker was heard from.
   * @default exponentialBackoff({ initialMs: 2500, maxMs: 32000, factor: 2, jitter: 0.2 })
   */
  reconnect?: RetryDelay;
  /**
   * Reply sent when the handler throws or rejects. Return frames to answer the client with an
   * application-defined error body. `undefined` (the default) sends no reply: the worker sends
   * DISCONNECT and registers again on a fresh socket, so the broker (any broker, including the
   * book's) gets it back as available, and the client times out and retries.
   * @default undefined
   */
  errorReply?: ((err: Error, request: Buffer[]) => Frame[] | undefined) | undefined;
  /** How long `close()` waits for the request in hand before abandoning it. @default 30000 */
  drainTimeoutMs?: number;
  /**
   * Linger of the socket on `close()`, so the last REPLY and DISCONNECT get out. On a live
   * connection libzmq flushes them in well under a millisecond; the linger only ever runs out while
   * the broker is unreachable (a worker reconnecting to a broker that is down), and then it holds
   * the process exit that long (zeromq.js warns past 500 ms), so keep it short. @default 250
   */
  closeLingerMs?: number;
  /**
   * Frames in one message from the broker at most (the broker's own bound); a message with more
   * is dropped, counted in `stats.oversize` and warned about: its request is not handled. @default 256
   */
  maxFramesPerMessage?: number;
  /**
   * Bytes in one message from the broker at most, all frames together (the broker's own bound);
   * dropped like `maxFramesPerMessage`. A single frame over the process-wide `--max-message-bytes`
   * makes libzmq drop the connection instead. @default 16777216 (16 MiB)
   */
  maxMessageBytes?: number;
  /**
   * CURVE: this side's key pair and the broker's public key. Without it the connection is plain.
   * @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
  /** Time source for heartbeats and reconnect delays. @default systemClock */
  clock?: Clock;
}

/**
 * The worker's defaults: MDP/0.1, the book's heartbeat (2500 ms, liveness 3), reconnect after
 * 2.5 s doubling to 32 s with 20 % jitter, 30 s to drain on `close()`.
 */
export const majordomoWorkerDefaults: Required<
  Omit<MajordomoWorkerOptions, 'broker' | 'service' | 'logger' | 'errorReply' | 'security' | 'handler'>
> = {
  version: '0.1',
  heartbeatIntervalMs: 2500,
  liveness: 3,
  reconnect: exponentialBackoff({ initialMs: 2500, maxMs: 32_000, factor: 2, jitter: 0.2 }),
  drainTimeoutMs: 30_000,
  closeLingerMs: 250,
  maxFramesPerMessage: inboundLimitDefaults.maxFramesPerMessage,
  maxMessageBytes: inboundLimitDefaults.maxMessageBytes,
  clock: systemClock,
};

/** The worker's options after defaults are applied, as `worker.options` shows them. */
export type ResolvedWorkerOptions = Required<
  Omit<MajordomoWorkerOptions, 'logger' | 'errorReply' | 'security' | 'handler'>
> & {
  /** The parent logger given, if any. */
  logger: Logger | undefined;
  /** The CURVE options given, if any. */
  security: SecurityOptions | undefined;
  /** The `errorReply` given, if any. */
  errorReply: MajordomoWorkerOptions['errorReply'];
};

export function resolveWorkerOptions(options: MajordomoWorkerOptions): ResolvedWorkerOptions {
  const { handler, ...rest } = options;
  if (handler !== undefined && typeof handler !== 'function')
    throw new MajordomoOptionsError('handler: expected a function');
  const o = {
    ...majordomoWorkerDefaults,
    ...definedOnly(rest),
    logger: options.logger,
    errorReply: options.errorReply,
    security: options.security,
  };
  if (typeof o.broker !== 'string' || o.broker === '')
    throw new MajordomoOptionsError('broker: an endpoint is required');
  if (typeof o.service !== 'string' || o.service === '')
    throw new MajordomoOptionsError('service: a service name is required');
  if (o.service.startsWith('mmi.'))
    throw new MajordomoOptionsError(`service: '${o.service}' is in the reserved mmi. namespace`);
  if (o.version !== '0.1' && o.version !== '0.2') throw new MajordomoOptionsError(`version: expected '0.1' or '0.2'`);
  checkPositive('heartbeatIntervalMs', o.heartbeatIntervalMs);
  checkCount('liveness', o.liveness, 1);
  checkCount('drainTimeoutMs', o.drainTimeoutMs, 0);
  checkCount('closeLingerMs', o.closeLingerMs, 0);
  checkCount('maxFramesPerMessage', o.maxFramesPerMessage, 1);
  checkCount('maxMessageBytes', o.maxMessageBytes, 1);
  return o;
}

/** What a handler gets besides the request body. */
export interface RequestContext {
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
  partial(body: readonly Frame[]): void;
  /** Aborted when the request is abandoned: the session to the broker was lost, or `close()` ran out of `drainTimeoutMs`. */
  readonly signal: AbortSignal;
}

/** A request handler: return the reply body. A throw or rejection is handled by `errorReply`. */
export type RequestHandler = (
  request: Buffer[],
  context: RequestContext,
) => readonly Frame[] | Promise<readonly Frame[]>;

/** One request of the iterator form: `for await (const req of worker) await req.reply(frames)`. */
export interface WorkerRequest extends RequestContext {
  /** The request body. */
  readonly body: Buffer[];
  /** Answer the request; the worker takes the next one only after this. */
  reply(body: readonly Frame[]): Promise<void>;
  /** Give up on the request as if the handler had thrown `err` (see `errorReply`). */
  fail(err: Error): void;
}

/** The worker's status events, from `worker.status()` (beside `started` and `closed`). */
export type WorkerStatus =
  | {
      readonly type: 'connected';
      /** The broker endpoint. */
      readonly server: string;
      /** The session (1 for the first socket, one more per reconnection). */
      readonly session: number;
    }
  | {
      readonly type: 'disconnected';
      /** The broker endpoint. */
      readonly server: string;
      /** The session that ended. */
      readonly session: number;
      /**
       * `broker-dead`: silent `heartbeatIntervalMs * liveness`; `disconnect`: the broker sent
       * DISCONNECT; `handler-error`: the handler failed with no `errorReply`, so the worker left
       * to register again.
       */
      readonly reason: 'broker-dead' | 'disconnect' | 'handler-error';
      /** With `broker-dead`: how long the broker had been silent. */
      readonly silentMs?: number;
    }
  | {
      readonly type: 'reconnecting';
      /** Reconnect attempt since the broker was last heard from (0 after a DISCONNECT). */
      readonly attempt: number;
      /** Wait before the new session opens. */
      readonly delayMs: number;
    };

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
