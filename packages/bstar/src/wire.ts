/**
 * `@zpatterns/bstar/protocol`: the Binary Star wire format and state machine, for tools and tests
 * that speak to a pair directly or drive the state machine with their own clock. Most services
 * need only the main entry (`BinaryStar`, `BinaryStarClient`).
 *
 * @module protocol
 */
export { decodeState, encodeState } from './protocol.js';
export { initialState, PEER_EVENTS, STATE_DIGITS, transition } from './fsm.js';

export type { BStarContext, BStarEvent, BStarTransition } from './fsm.js';
