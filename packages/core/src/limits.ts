/**
 * Limits on what an untrusted peer may make a process hold in memory.
 *
 * `maxMessageSize` (libzmq's ZMQ_MAXMSGSIZE) makes libzmq drop the connection of a peer that
 * announces a frame larger than the limit, before reading it: without it a peer, with or without
 * CURVE keys, can make a daemon read a frame of any size whole before its own checks run.
 * libzmq applies it to each frame as it arrives, so it bounds frames, not the sum of a multipart
 * message (the Majordomo broker and the Freelance server check that sum themselves).
 *
 * The limit is process-wide: a daemon sets it once from its `--max-message-bytes` flag, and every
 * socket that accepts peers (`applyBindSecurity`, which every binding socket of zpatterns calls,
 * plain or not) takes it when it is made.
 */
import type * as zmq from 'zeromq';
import { InvalidArgumentError } from './errors.js';

/**
 * Largest frame a peer may send to a socket that accepts peers: 16 MiB, the Majordomo broker's and
 * the Freelance server's limit for a whole message. The book's workloads are far below it.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

let maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES;

/** Set the process-wide frame limit (whole bytes, at least 1; -1 for no limit, libzmq's default). */
export function setMaxMessageBytes(bytes: number): void {
  if (!Number.isSafeInteger(bytes) || (bytes < 1 && bytes !== -1)) {
    throw new InvalidArgumentError(`maxMessageBytes must be a whole number of bytes (at least 1) or -1, got ${bytes}`);
  }
  maxMessageBytes = bytes;
}

/** The process-wide frame limit in force. */
export function getMaxMessageBytes(): number {
  return maxMessageBytes;
}

/** Apply the process-wide frame limit to a socket that accepts peers (before it binds or connects). */
export function applyPeerLimits(socket: Pick<zmq.Socket, 'maxMessageSize'>): void {
  socket.maxMessageSize = maxMessageBytes;
}
