/** Building blocks of `TitanicServer` and test-only internals: no semver promise. */
export { Dispatcher, dispatcherDefaults, newInstanceId } from './dispatcher.js';
export { DispatchQueue } from './dispatch-queue.js';
export { GroupCommitter, groupCommitterDefaults } from './group-commit.js';
export { ServiceCircuit } from './service-circuit.js';
export { leasesOf } from './store.js';

export type { DispatchClient, DispatcherOptions } from './dispatcher.js';
export type { DispatchQueueOptions, Job, Taken } from './dispatch-queue.js';
export type { GroupCommitStats, GroupCommitterOptions } from './group-commit.js';
export type { CircuitState } from './service-circuit.js';
