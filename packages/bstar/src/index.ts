export { BinaryStar, binaryStarDefaults } from './binary-star.js';
export { BinaryStarClient, binaryStarClientDefaults } from './client.js';
export { BSTAR_HEARTBEAT_MS, BSTAR_PEER_EXPIRY_HEARTBEATS } from './protocol.js';

export type { BinaryStarOptions, BinaryStarSnapshot, BinaryStarStats, BinaryStarStatus } from './binary-star.js';
export type { BinaryStarClientOptions } from './client.js';
export type { BStarRole, BStarState } from './fsm.js';
