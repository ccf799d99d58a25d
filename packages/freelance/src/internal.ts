/** Internals for zpatterns packages and tests. No semver promise. */
export { ServerTable } from './servers.js';

export type { ServerEntry, ServerTableOptions } from './servers.js';
