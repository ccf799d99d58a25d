/** Internals for zpatterns packages and tests: the state message codec. No semver promise. */
export { decodeState, encodeState } from './protocol.js';
