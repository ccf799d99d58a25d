export { errors } from './errors.js';
export { DEFAULT_MAX_QUEUED_BYTES } from './backlog.js';
export { LazyPirateClient } from './lazy-pirate-client.js';
export { lazyPirateClientDefaults } from './lazy-pirate-options.js';
export { ParanoidPirateQueue, paranoidPirateQueueDefaults } from './paranoid-pirate-queue.js';
export { ParanoidPirateWorker, paranoidPirateWorkerDefaults } from './paranoid-pirate-worker.js';
export {
  DEFAULT_BACKEND,
  DEFAULT_FRONTEND,
  LAZY_PIRATE_ATTEMPT_TIMEOUT_MS,
  LAZY_PIRATE_RETRIES,
  PPP_HEARTBEAT_INTERVAL_MS,
  PPP_HEARTBEAT_LIVENESS,
  PPP_RECONNECT_INITIAL_MS,
  PPP_RECONNECT_MAX_MS,
} from './defaults.js';
export { SimplePirateQueue, simplePirateQueueDefaults } from './simple-pirate-queue.js';
export { SimplePirateWorker, simplePirateWorkerDefaults } from './simple-pirate-worker.js';

export type { LazyPirateClientOptions, LazyPirateClientStats, LazyPirateClientStatus } from './lazy-pirate-options.js';
export type { ParanoidPirateQueueOptions, ParanoidPirateQueueStats } from './paranoid-pirate-queue.js';
export type {
  ParanoidPirateWorkerOptions,
  ParanoidPirateWorkerStats,
  ParanoidPirateWorkerStatus,
} from './paranoid-pirate-worker.js';
export type { PirateQueueStatus, SimplePirateQueueOptions, SimplePirateQueueStats } from './simple-pirate-queue.js';
export type {
  SimplePirateWorkerOptions,
  SimplePirateWorkerStats,
  SimplePirateWorkerStatus,
} from './simple-pirate-worker.js';
