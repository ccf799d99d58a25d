/**
 * `@zpatterns/pirate/protocol`: the Simple and Paranoid Pirate wire format (6/PPP), for tools and
 * tests that speak to a queue or a worker directly. Most services need only the main entry.
 *
 * @module protocol
 */
export {
  decodeClientRequest,
  decodePppQueueMessage,
  decodePppWorkerMessage,
  decodeSimpleRequest,
  decodeSimpleWorkerMessage,
  encodeClientReply,
  encodePppHeartbeat,
  encodePppReady,
  encodePppRequest,
  encodePppWorkerHeartbeat,
  encodeReply,
  encodeSequence,
  encodeSimpleReady,
  encodeSimpleRequest,
  isSequence,
  PPP_HEARTBEAT,
  PPP_READY,
  SIMPLE_READY,
  splitEnvelope,
} from './protocol.js';

export type {
  ClientRequest,
  Enveloped,
  FromWorker,
  Invalid,
  PppQueueMessage,
  PppWorkerMessage,
  SimpleWorkerMessage,
} from './protocol.js';
