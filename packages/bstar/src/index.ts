export { BinaryStar, binaryStarDefaults } from './binary-star.js';
export { createBinaryStarClient, binaryStarClientDefaults } from './client.js';
export { errors, NotStartedError } from './errors.js';
export { BSTAR_HEARTBEAT_MS, BSTAR_PEER_EXPIRY_HEARTBEATS } from './protocol.js';

export type { BinaryStarOptions, BStarChange, BStarStats } from './binary-star.js';
export type { BinaryStarClientOptions } from './client.js';
export type { BStarErrorCode } from './errors.js';
export type { BStarNotice, BStarRole, BStarState } from './fsm.js';
