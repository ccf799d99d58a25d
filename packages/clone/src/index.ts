/** @zpatterns/clone: the Clone pattern (12/CHP): the client agent and the server (alone or a Binary Star pair). The wire format is in `@zpatterns/clone/protocol`. */
export { serverAddress } from './address.js';
export { CloneClient } from './client.js';
export { cloneClientDefaults } from './client-options.js';
export { errors, JournalError, ReplicaError, WatchOverflowError } from './errors.js';
export type { CloneErrorCode } from './errors.js';
export { CloneServer, cloneServerDefaults, portEndpoints } from './server.js';

export type {
  CloneChange,
  CloneClientOptions,
  CloneClientStats,
  CloneClientStatus,
  CommitOptions,
  SetOptions,
  WatchOptions,
} from './client-options.js';
export type { CloneServerAddress } from './address.js';
export type { KvMsg } from './kvmsg.js';
export type {
  CloneServerHealth,
  ClonePairOptions,
  CloneServerOptions,
  CloneServerRole,
  CloneServerStats,
  CloneServerStatus,
} from './server.js';
