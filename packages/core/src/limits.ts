/**
 * Limits on what an untrusted peer may make a process hold in memory.
 *
 * `maxMessageSize` (libzmq's ZMQ_MAXMSGSIZE) makes libzmq drop the connection of a peer that
 * announces a frame larger than the limit, before reading it: without it a peer, with or without
 * CURVE keys, can make a daemon read a frame of any size whole before its own checks run.
 * libzmq applies it to each frame as it arrives, so it bounds frames, not the sum of a multipart
 * message (the Majordomo broker and the Freelance server check that sum themselves).
 *
 * The limit belongs to each object: every object that accepts peers takes a `maxMessageBytes`
 * option and applies it to its own sockets (`applyBindSecurity` does it for every binding socket).
 */
import type * as zmq from 'zeromq';
import { InvalidArgumentError } from './errors.js';

/**
 * Largest frame a peer may send to a socket that accepts peers: 16 MiB, the Majordomo broker's and
 * the Freelance server's limit for a whole message. The book's workloads are far below it.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Check a `maxMessageBytes` option: whole bytes, at least 1, or -1 for no limit (libzmq's default). */
export function checkMaxMessageBytes(bytes: number, what = 'maxMessageBytes'): number {
  if (!Number.isSafeInteger(bytes) || (bytes < 1 && bytes !== -1)) {
    throw new InvalidArgumentError(`${what} must be a whole number of bytes (at least 1) or -1, got ${bytes}`);
  }
  return bytes;
}

/** Apply a frame limit to a socket that accepts peers (before it binds or connects). */
export function applyPeerLimits(
  socket: Pick<zmq.Socket, 'maxMessageSize'>,
  maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES,
): void {
  socket.maxMessageSize = checkMaxMessageBytes(maxMessageBytes);
}
