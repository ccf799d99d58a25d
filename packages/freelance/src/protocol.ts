/**
 * `@zpatterns/freelance/protocol`: the Freelance (10/FLP) wire format and the port helpers, for
 * tools and tests that speak to a server or client directly, or need a server's endpoint before
 * it binds. Services need only the main entry (`FreelanceClient`, `FreelanceServer`).
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
} from './codec.js';
export { freeTcpEndpoint, freeTcpPort } from './endpoint.js';

export type { ClientInbound, ServerInbound } from './codec.js';
