/**
 * `@zpatterns/bstar/protocol`: the whole Binary Star wire format, and the state machine that reads
 * it, for tools and tests that speak to a pair directly or drive the state machine with their own
 * clock. Most services need only the main entry (`BinaryStar`, `BinaryStarClient`).
 *
 * One message, the sender's state, published every heartbeat on a PUB socket that the peer's SUB
 * (subscribed to everything) reads.
 *
 *   [ "1" | "2" | "3" | "4" ]      one frame, the ASCII digit: primary, backup, active, passive
 *
 * The book's C reads it with `atoi`, so anything else would be taken as 0 (no event). We accept
 * exactly one frame of exactly one digit from 1 to 4 and count everything else as garbage.
 *
 * @module protocol
 */
import type { Message } from '@zpatterns/core';
import { PEER_EVENTS, STATE_DIGITS, type BStarEvent, type BStarState } from './fsm.js';

export { initialState, PEER_EVENTS, STATE_DIGITS, transition } from './fsm.js';
export type { BStarContext, BStarEvent, BStarNotice, BStarTransition } from './fsm.js';

/** How often each server publishes its state, in ms (the book's 1 s). */
export const BSTAR_HEARTBEAT_MS = 1000;
/** Silent heartbeats after which the peer counts as dead (the book's 2). */
export const BSTAR_PEER_EXPIRY_HEARTBEATS = 2;

const ENCODED: Readonly<Record<BStarState, Buffer>> = {
  primary: Buffer.from(String(STATE_DIGITS.primary)),
  backup: Buffer.from(String(STATE_DIGITS.backup)),
  active: Buffer.from(String(STATE_DIGITS.active)),
  passive: Buffer.from(String(STATE_DIGITS.passive)),
};

/** The state message for `state`: one frame. */
export function encodeState(state: BStarState): [Buffer] {
  return [ENCODED[state]];
}

/** The peer event a state message stands for, or a reason it is garbage. */
export function decodeState(message: Message): { event: BStarEvent } | { error: string } {
  if (message.length !== 1) return { error: `expected 1 frame, got ${message.length}` };
  const frame = message[0] as Buffer;
  if (frame.length !== 1) return { error: `expected one digit, got ${frame.length} bytes` };
  const event = PEER_EVENTS[(frame[0] as number) - 0x30];
  return event === undefined ? { error: `not a state digit: 0x${frame.toString('hex')}` } : { event };
}
