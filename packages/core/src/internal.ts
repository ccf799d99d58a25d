/**
 * Internals shared between zpatterns packages and their tests. No semver promise: anything here
 * may change in any release.
 */
export { persistentRetryDelay } from './backoff.js';
export { failSpan, failSpanAs, SpanKinds, startSpan, tracingAvailable } from './tracing.js';
export type { TraceSpan } from './tracing.js';
