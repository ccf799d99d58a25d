/**
 * Internals shared between zpatterns packages and their tests. No semver promise: anything here
 * may change in any release.
 */
export { persistentRetryDelay } from './backoff.js';
