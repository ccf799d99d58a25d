export { AsyncQueue } from './async-queue.js';
export { constantBackoff, exponentialBackoff, exponentialBackoffDefaults } from './backoff.js';
export { Channel } from './channel.js';
export { Component } from './component.js';
export { ManualClock, sleep, systemClock } from './clock.js';
export { Deque } from './deque.js';
export { bindEndpoint, inprocEndpoint, ipcEndpoint, isWildcardEndpoint, LOOPBACK_ANY } from './endpoints.js';
export {
  AbortError,
  BindError,
  ClosedError,
  errors,
  GaveUpError,
  InvalidArgumentError,
  InvalidStateError,
  NotStartedError,
  ProtocolError,
  throwIfAborted,
  TimeoutError,
  toError,
  ZPatternsError,
} from './errors.js';
export { CallBudget } from './call-budget.js';
export { ExpiryList } from './expiry.js';
export {
  describe,
  EMPTY,
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
export { Heartbeat, heartbeatDefaults } from './heartbeat.js';
export { PeerLiveness } from './liveness.js';
export {
  formatPublicKeyFile,
  formatSecretKeyFile,
  generateKeyPair,
  isZ85Key,
  KeyFileError,
  loadPublicKey,
  loadSecretKeyFile,
  parseKeyText,
  readPublicKeys,
  saveKeyPair,
  z85Encode,
} from './keys.js';
export {
  applyPeerLimits,
  checkMaxMessageBytes,
  DEFAULT_MAX_MESSAGE_BYTES,
  getMaxMessageBytes,
  setMaxMessageBytes,
} from './limits.js';
export { MinHeap } from './heap.js';
export { definedOnly } from './options.js';
export { invalidOption, oneOf, optional, resolveOptions, rules } from './resolve-options.js';
export { replyFrames } from './request.js';
export { STATUS_EVENT_TYPES } from './status-events.js';
export { ServerRotation } from './rotation.js';
export { applyBindSecurity, applyConnectSecurity, resolveCurveKeys, ServerSecurity } from './security.js';
export { StatusFeed } from './status-feed.js';
export { WarningLimiter } from './warning-limiter.js';
export { componentLogger, silentLogger } from './logger.js';
export { deadline } from './signals.js';
export { AllowList, decodeZapRequest, encodeZapReply, ZAP_ENDPOINT, ZapDomain, ZapHandler } from './zap.js';

export type { ExponentialBackoffOptions, RetryDelay } from './backoff.js';
export type { AttemptOutcome } from './call-budget.js';
export type { ChannelOptions, ChannelSocket, ChannelStats } from './channel.js';
export type { Clock, TimerHandle } from './clock.js';
export type { ComponentState, ComponentStatus, Startable, StartOptions, WaitForOptions } from './component.js';
export type { Bindable } from './endpoints.js';
export type { CoreErrorCode, TimeoutErrorOptions } from './errors.js';
export type { Frame, Frames, Message } from './frames.js';
export type { HeartbeatOptions, HeartbeatPort } from './heartbeat.js';
export type { PeerLivenessOptions, PeerState, ServerAliveStatus, ServerDeadStatus } from './liveness.js';
export type { CurveKeyPair } from './keys.js';
export type { DefinedOnly } from './options.js';
export type { CommonRules, OptionRule, OptionRules, ResolvedOptions } from './resolve-options.js';
export type { HandlerContext, RequestHandler, RequestOptions } from './request.js';
export type {
  ClosedEvent,
  ConnectedEvent,
  DisconnectedEvent,
  DisconnectReason,
  DrainedEvent,
  FailoverEvent,
  HealthyEvent,
  ReconnectingEvent,
  ResyncEvent,
  ResyncReason,
  RoleEvent,
  SaturatedEvent,
  ServiceAvailableEvent,
  ServiceUnavailableEvent,
  SplitBrainEvent,
  StartedEvent,
  StatusEvent,
  StatusEventType,
  UnhealthyEvent,
  WorkerReadyEvent,
  WorkerRemovedEvent,
  WorkerRemovedReason,
} from './status-events.js';
export type { RotationStrategy, ServerRotationOptions } from './rotation.js';
export type { CurveOptions, SecurableSocket, SecurityOptions } from './security.js';
export type { Logger } from './logger.js';
export type { DeadlineOptions } from './signals.js';
export type { Authorizer, ZapDomainOptions, ZapRequest, ZapStats } from './zap.js';
