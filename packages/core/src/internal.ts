/**
 * Internals shared between zpatterns packages and their tests. No semver promise: anything here
 * may change in any release.
 */
export { persistentRetryDelay } from './backoff.js';
export { failSpan, failSpanAs, SpanKinds, startSpan, tracingActive, tracingAvailable } from './tracing.js';
export type { TraceSpan } from './tracing.js';

// Building blocks of the patterns, shared by the packages.
export { AsyncQueue } from './async-queue.js';
export { Channel } from './channel.js';
export { Deque } from './deque.js';
export { bindEndpoint, isWildcardEndpoint } from './endpoints.js';
export { ExpiryList } from './expiry.js';
export {
  EMPTY,
  describe,
  expectFrames,
  frame,
  frameEquals,
  hex,
  isByte,
  readU64,
  text,
  toBuffer,
  u64,
} from './frames.js';
export { MinHeap } from './heap.js';
export { Heartbeat, heartbeatDefaults } from './heartbeat.js';
export { applyPeerLimits, checkMaxMessageBytes } from './limits.js';
export { PeerLiveness } from './liveness.js';
export { componentLogger } from './logger.js';
export { definedOnly } from './options.js';
export { ServerRotation } from './rotation.js';
export { ServerSecurity, applyBindSecurity, applyConnectSecurity, resolveCurveKeys } from './security.js';
export { StatusFeed } from './status-feed.js';
export { WarningLimiter } from './warning-limiter.js';
export { ZAP_ENDPOINT, ZapDomain, ZapHandler, decodeZapRequest, encodeZapReply } from './zap.js';
export type { ChannelOptions, ChannelSocket, ChannelStats } from './channel.js';
export type { HeartbeatOptions, HeartbeatPort } from './heartbeat.js';
export type { PeerLivenessOptions, PeerState } from './liveness.js';
export type { DefinedOnly } from './options.js';
export type { ServerRotationOptions } from './rotation.js';
export type { SecurableSocket } from './security.js';
export type { ZapDomainOptions } from './zap.js';
