/** Test-only internals: no semver promise. */
export { DispatchQueue } from './dispatch-queue.js';
export { ServiceCircuit } from './service-circuit.js';

export type { DispatchQueueOptions, Job, Taken } from './dispatch-queue.js';
export type { CircuitState } from './service-circuit.js';
