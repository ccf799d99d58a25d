export { NoReplyError, ReconnectGaveUpError, errors } from './errors.js';
export { DEFAULT_MAX_QUEUED_BYTES } from './backlog.js';
export { LazyPirateClient, lazyPirateClientDefaults } from './lazy-pirate-client.js';
export { ParanoidPirateQueue, paranoidPirateQueueDefaults } from './paranoid-pirate-queue.js';
export { ParanoidPirateWorker, paranoidPirateWorkerDefaults } from './paranoid-pirate-worker.js';
export {
  DEFAULT_BACKEND,
  DEFAULT_FRONTEND,
  LAZY_PIRATE_RETRIES,
  LAZY_PIRATE_TIMEOUT_MS,
  PPP_HEARTBEAT,
  PPP_HEARTBEAT_INTERVAL_MS,
  PPP_HEARTBEAT_LIVENESS,
  PPP_READY,
  PPP_RECONNECT_INITIAL_MS,
  PPP_RECONNECT_MAX_MS,
  SIMPLE_READY,
} from './protocol.js';
export { SimplePirateQueue, simplePirateQueueDefaults } from './simple-pirate-queue.js';
export { SimplePirateWorker, simplePirateWorkerDefaults } from './simple-pirate-worker.js';

export type { PirateErrorCode } from './errors.js';
export type {
  LazyPirateClientOptions,
  LazyPirateClientState,
  LazyPirateClientStats,
  RequestOptions,
} from './lazy-pirate-client.js';
export type {
  ParanoidPirateQueueOptions,
  ParanoidPirateQueueStats,
  PirateQueueState,
} from './paranoid-pirate-queue.js';
export type {
  ParanoidPirateWorkerOptions,
  ParanoidPirateWorkerState,
  ParanoidPirateWorkerStats,
  RequestHandler,
  WorkerStatus,
} from './paranoid-pirate-worker.js';
export type { SimplePirateQueueOptions, SimplePirateQueueStats } from './simple-pirate-queue.js';
export type {
  SimplePirateWorkerOptions,
  SimplePirateWorkerState,
  SimplePirateWorkerStats,
} from './simple-pirate-worker.js';
