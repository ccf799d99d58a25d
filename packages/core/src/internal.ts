/**
 * Internals shared between zpatterns packages and their tests. No semver promise: anything here
 * may change in any release.
 */
export { persistentRetryDelay } from './backoff.js';
export { failSpan, failSpanAs, SpanKinds, startSpan, tracingAvailable } from './tracing.js';
export type { TraceSpan } from './tracing.js';

// Building blocks of the patterns: public in `@zpatterns/core` until the release, then only here.
export { AsyncQueue } from './async-queue.js';
export { Deque } from './deque.js';
export { ExpiryList } from './expiry.js';
export { MinHeap } from './heap.js';
export { StatusFeed } from './status-feed.js';
export { Heartbeat, heartbeatDefaults } from './heartbeat.js';
export { PeerLiveness } from './liveness.js';
export { WarningLimiter } from './warning-limiter.js';
export { applyPeerLimits, checkMaxMessageBytes } from './limits.js';
export { decodeZapRequest, encodeZapReply, ZAP_ENDPOINT, ZapDomain, ZapHandler } from './zap.js';
export type { HeartbeatOptions, HeartbeatPort } from './heartbeat.js';
export type { PeerLivenessOptions, PeerState } from './liveness.js';
