/** Internals for zpatterns packages and tests. No semver promise. */
export { ServerTable } from './servers.js';

export type { ServerEntry, ServerTableTimings } from './servers.js';
