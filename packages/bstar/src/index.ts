export { BinaryStar } from './binary-star.js';
export { binaryStarDefaults } from './binary-star-options.js';
export { BinaryStarClient, binaryStarClientDefaults } from './client.js';
export { BSTAR_HEARTBEAT_MS, BSTAR_PEER_EXPIRY_HEARTBEATS } from './protocol.js';

export type {
  BinaryStarOptions,
  BinaryStarSnapshot,
  BinaryStarStats,
  BinaryStarStatus,
} from './binary-star-options.js';
export type { BinaryStarClientOptions } from './client.js';
export type { BStarRole, BStarState } from './fsm.js';
