export { BinaryStar, binaryStarDefaults } from './binary-star.js';
export { createBinaryStarClient, binaryStarClientDefaults } from './client.js';
export { errors, NotStartedError } from './errors.js';
export { initialState, PEER_EVENTS, STATE_DIGITS, transition } from './fsm.js';
export { BSTAR_HEARTBEAT_MS, BSTAR_PEER_EXPIRY_HEARTBEATS } from './protocol.js';

export type { BinaryStarOptions, BStarChange, BStarStats } from './binary-star.js';
export type { BinaryStarClientOptions } from './client.js';
export type { BStarErrorCode } from './errors.js';
export type { BStarContext, BStarEvent, BStarNotice, BStarRole, BStarState, BStarTransition } from './fsm.js';
