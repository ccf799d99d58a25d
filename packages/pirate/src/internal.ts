/**
 * Internals for zpatterns packages and tests: the wire codec and the queue's bookkeeping. No
 * semver promise: anything here may change in any release.
 */
export { Backlog, Intake, requestBytes } from './backlog.js';
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
  splitEnvelope,
} from './protocol.js';
export { WorkerPool } from './worker-pool.js';

export type {
  ClientRequest,
  Enveloped,
  FromWorker,
  Invalid,
  PppQueueMessage,
  PppWorkerMessage,
  SimpleWorkerMessage,
} from './protocol.js';
export type { PoolChange } from './worker-pool.js';
