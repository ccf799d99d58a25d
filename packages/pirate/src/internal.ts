/**
 * Internals for zpatterns packages and tests: the queue's bookkeeping. No semver promise:
 * anything here may change in any release. The wire codec is `@zpatterns/pirate/protocol`.
 */
export { Backlog, Intake, requestBytes } from './backlog.js';
export { WorkerPool } from './worker-pool.js';

export type { PoolChange } from './worker-pool.js';
