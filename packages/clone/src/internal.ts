/** Internals for zpatterns packages and tests. No semver promise. */
export { KvStore } from './store.js';
export type { StoredEntry } from './store.js';
