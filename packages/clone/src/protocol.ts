/**
 * `@zpatterns/clone/protocol`: the Clone (12/CHP) wire format (kvmsg and the control commands),
 * for tools and tests that speak to a server directly. Services need only the main entry
 * (`CloneClient`, `CloneServer`).
 *
 * @module protocol
 */
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

export type { KvMsg } from './kvmsg.js';
