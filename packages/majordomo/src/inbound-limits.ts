/**
 * What the broker may make a client's or a worker's DEALER hold: the bounds of the broker's own
 * ROUTER (`maxFramesPerMessage`, `maxMessageBytes`), so that a broker (or a peer behind a broker
 * with looser limits) cannot make a client or a worker take in more than a broker would.
 *
 * Two layers, as on the sockets that accept peers: libzmq drops the connection on a single frame
 * over `maxMessageBytes` before reading it; a message whose frames pass that but which has too many
 * frames, or too many bytes in all, is dropped here, counted and warned about (rate-limited: the
 * broker can send many).
 */
import type { Clock, Logger } from '@zpatterns/core';
import { applyPeerLimits, WarningLimiter } from '@zpatterns/core/internal';
import type * as zmq from 'zeromq';

/** The bounds on one inbound message. */
export interface InboundLimits {
  /** Frames in one message from the broker at most. @default 256 (the broker's) */
  readonly maxFramesPerMessage: number;
  /** Bytes in one message from the broker (all frames together) at most. @default 16777216 (16 MiB, the broker's) */
  readonly maxMessageBytes: number;
}

/** The broker's own inbound bounds. */
export const inboundLimitDefaults: InboundLimits = {
  maxFramesPerMessage: 256,
  maxMessageBytes: 16 * 1024 * 1024,
};

/**
 * Guards one component's DEALERs (every socket of a client, every session of a worker): sets the
 * libzmq frame limit on each, and drops, counts and warns about oversize messages.
 */
export class InboundGuard {
  readonly #limits: InboundLimits;
  readonly #warnings: WarningLimiter;

  constructor(limits: InboundLimits, log: Logger, clock: Clock) {
    this.#limits = limits;
    this.#warnings = new WarningLimiter(log, clock, 5);
  }

  /** The libzmq frame limit (this object's `maxMessageBytes`), before the socket connects. */
  prepare(socket: Pick<zmq.Socket, 'maxMessageSize'>): void {
    applyPeerLimits(socket, this.#limits.maxMessageBytes);
  }

  /** True (and warned about) when `message` is over a bound: the caller counts and drops it. */
  oversize(message: readonly Buffer[], fields: Record<string, unknown>): boolean {
    const { maxFramesPerMessage, maxMessageBytes } = this.#limits;
    let bytes = 0;
    for (const frame of message) bytes += frame.length;
    if (message.length <= maxFramesPerMessage && bytes <= maxMessageBytes) return false;
    this.#warnings.warn(
      { ...fields, frames: message.length, bytes, maxFramesPerMessage, maxMessageBytes },
      'oversize message from the broker dropped',
    );
    return true;
  }
}
