/**
 * `@zpatterns/freelance/protocol`: the Freelance (10/FLP) wire format, for tools and tests that
 * speak to a server or client directly. Services need only the main entry (`FreelanceClient`,
 * `FreelanceServer`).
 *
 * @module protocol
 */
export {
  decodeClientInbound,
  decodeRequestId,
  decodeServerInbound,
  encodePing,
  encodePong,
  encodeReply,
  encodeRequest,
  encodeRequestId,
  PING,
  PONG,
} from './protocol.js';

export type { ClientInbound, ServerInbound } from './protocol.js';
