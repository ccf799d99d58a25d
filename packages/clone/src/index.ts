/** @zpatterns/clone: the Clone pattern (12/CHP): wire format, server (alone or a Binary Star pair), client agent. */
export { CloneClient, cloneClientDefaults, serverAddress } from './client.js';
export { errors, JournalError, NotStartedError, ReplicaError, WatchOverflowError } from './errors.js';
export type { CloneErrorCode } from './errors.js';
export { CloneServer, cloneServerDefaults, portEndpoints } from './server.js';
export {
  decodeIcanhaz,
  decodeKvMsg,
  decodeProperties,
  encodeHugz,
  encodeIcanhaz,
  encodeKthxbai,
  encodeKvMsg,
  encodeProperties,
  HUGZ,
  ICANHAZ,
  inSubtree,
  isReservedKey,
  KTHXBAI,
  newUuid,
  TTL_PROPERTY,
  ttlSeconds,
  UUID_BYTES,
} from './kvmsg.js';

export type { CloneChange, CloneClientOptions, CloneClientStats, CloneServerAddress } from './client.js';
export type { FollowerStats, ReplicaSource } from './follower.js';
export type { KvMsg } from './kvmsg.js';
export type {
  CloneServerHealth,
  ClonePairOptions,
  CloneServerOptions,
  CloneServerRole,
  CloneServerStats,
} from './server.js';
