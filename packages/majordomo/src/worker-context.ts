/**
 * What a `MajordomoWorker` hands each request: the context of the request in hand (with its lazily
 * made `AbortSignal` and MDP/0.2 partial replies), and the adapter that turns requests into
 * `WorkerRequest`s for the `for await` form.
 */
import { toError, type Frame, type Frames, type Logger, type RequestHandler } from '@zpatterns/core';
import { failSpan, type AsyncQueue, type TraceSpan } from '@zpatterns/core/internal';
import { MdpVersionError } from './errors.js';
import type { MdpVersion } from './codec.js';
import { replyFrames } from './worker-frames.js';
import type { MajordomoHandlerContext, ResolvedWorkerOptions, WorkerRequest, WorkerStats } from './worker-options.js';
import type { WorkerSession } from './worker-session.js';

/**
 * A handler failed: count and log it, end its span as failed, and give the reply to send instead:
 * what the worker's `errorReply` option makes of the error; undefined (no reply) without that
 * option, or when it throws too (logged).
 */
export function handlerFailure(
  caught: unknown,
  options: Pick<ResolvedWorkerOptions, 'errorReply'>,
  stats: WorkerStats,
  log: Logger,
  session: number,
  body: Buffer[],
  span: TraceSpan | undefined,
): Frames | Frame | undefined {
  const err = toError(caught);
  if (span !== undefined) failSpan(span, err);
  stats.handlerErrors++;
  log.warn({ err, session }, 'handler failed');
  if (options.errorReply === undefined) return undefined;
  try {
    return options.errorReply(err, body);
  } catch (thrown) {
    log.warn({ err: toError(thrown) }, 'errorReply threw; no reply sent');
    return undefined;
  }
}

/** The handler of a worker made without one: each request is queued for the `for await` loop. */
export function queueHandler(queue: AsyncQueue<WorkerRequest>): RequestHandler<MajordomoHandlerContext> {
  return (body, context) =>
    new Promise<Frame | Frames>((resolve, reject) => {
      queue.push({
        service: context.service,
        client: context.client,
        version: context.version,
        partial: (frames) => context.partial(frames),
        get signal() {
          return context.signal;
        },
        body,
        reply: async (frames) => resolve(frames),
        fail: reject,
      });
    });
}

export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/**
 * One shared getter for every context, so all of them keep the same shape. `configurable` is left
 * out (false by default): each field present is one more lookup when V8 reads the descriptor.
 */
const SIGNAL_PROPERTY: PropertyDescriptor = {
  enumerable: true,
  get(this: HandlerContext): AbortSignal {
    return this.lazySignal();
  },
};

/**
 * The context of the request in hand. Its `AbortSignal` is made only when the handler reads
 * `signal` (most never do, and an AbortController per request is a measurable cost); an abort
 * before that is remembered and the signal is born aborted with the same reason.
 */
export class HandlerContext implements MajordomoHandlerContext {
  readonly service: string;
  readonly client: Buffer;
  readonly version: MdpVersion;
  readonly partial: (body: Frame | Frames) => void;
  /** An own, enumerable accessor (as the plain-object context had a property), so `{...ctx}` keeps it. */
  declare readonly signal: AbortSignal;
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  constructor(o: ResolvedWorkerOptions, client: Buffer, session: WorkerSession, stats: WorkerStats) {
    const version = o.version;
    this.service = o.service;
    this.client = client;
    this.version = version;
    this.partial = (frames) => {
      if (version === '0.1') throw new MdpVersionError('MDP/0.1 has no PARTIAL replies: use version 0.2');
      if (session.post(replyFrames(version, client, frames, false))) stats.partials++;
    };
    Object.defineProperty(this, 'signal', SIGNAL_PROPERTY);
  }

  lazySignal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Abort the request (the first reason wins, as with AbortController). */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}
