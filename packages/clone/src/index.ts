/** @zpatterns/clone: the Clone pattern (12/CHP): wire format, single server, client agent. */
export { CloneClient } from './client.js';
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
  KTHXBAI,
  newUuid,
  TTL_PROPERTY,
  ttlSeconds,
  UUID_BYTES,
} from './kvmsg.js';

export type { CloneChange, CloneClientOptions, CloneClientStats } from './client.js';
export type { KvMsg } from './kvmsg.js';
export type { CloneServerOptions, CloneServerStats } from './server.js';
