/**
 * The one shape of a call and of a handler across the patterns: every client call takes
 * `RequestOptions`, and every worker or server handler is a `RequestHandler`.
 */
import type { Frame, Frames } from './frames.js';

/**
 * Options of a call that waits for the network. Every member may be `undefined`, which keeps the
 * object's default.
 */
export interface RequestOptions {
  /**
   * Bound on the whole call, every attempt, resend and wait included. When it runs out the call
   * rejects with `TimeoutError` (`ERR_TIMEOUT`). Defaults to the object's `timeoutMs`.
   */
  timeoutMs?: number | undefined;
  /** How long one attempt waits for its reply before the next resend. Defaults to the object's. */
  attemptTimeoutMs?: number | undefined;
  /** Resends after the first send: `0` sends once. Defaults to the object's. */
  retries?: number | undefined;
  /** Abandon the call: it rejects with `AbortError` (its `cause` the signal's reason). */
  signal?: AbortSignal | undefined;
}

/** What a handler gets beside the request body. Patterns add their own fields. */
export interface HandlerContext {
  /**
   * Aborts when the request is abandoned: the object closes, or the pattern gives up on the
   * request. Pass it to whatever the handler waits on.
   */
  readonly signal: AbortSignal;
}

/**
 * A worker's or server's handler: the request body in, the reply body out (one frame or several,
 * or a promise of them). A handler that throws or rejects gets the pattern's error treatment.
 */
export type RequestHandler<TContext extends HandlerContext = HandlerContext> = (
  body: Buffer[],
  context: TContext,
) => Frame | Frames | Promise<Frame | Frames>;

/** A handler's result as an array of frames: one frame becomes a one-frame reply. */
export function replyFrames(result: Frame | Frames): Frames {
  return typeof result === 'string' || result instanceof Uint8Array ? [result] : result;
}
