export { constantBackoff, exponentialBackoff, exponentialBackoffDefaults } from './backoff.js';
export { Component } from './component.js';
export { ManualClock, sleep, systemClock } from './clock.js';
export { inprocEndpoint, ipcEndpoint, LOOPBACK_ANY } from './endpoints.js';
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
export { DEFAULT_MAX_MESSAGE_BYTES } from './limits.js';
export { invalidOption, oneOf, optional, resolveOptions, rules } from './resolve-options.js';
export { replyFrames } from './request.js';
export { STATUS_EVENT_TYPES } from './status-events.js';
export { silentLogger } from './logger.js';
export { deadline } from './signals.js';
export { AllowList } from './zap.js';

export type { ExponentialBackoffOptions, RetryDelay } from './backoff.js';
export type { AttemptOutcome } from './call-budget.js';
export type { Clock, TimerHandle } from './clock.js';
export type { ComponentState, ComponentStatus, Startable, StartOptions, WaitForOptions } from './component.js';
export type { Bindable } from './endpoints.js';
export type { CoreErrorCode, TimeoutErrorOptions } from './errors.js';
export type { Frame, Frames, Message } from './frames.js';
export type { CurveKeyPair } from './keys.js';
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
export type { RotationStrategy } from './rotation.js';
export type { CurveOptions, SecurityOptions } from './security.js';
export type { Logger } from './logger.js';
export type { DeadlineOptions } from './signals.js';
export type { Authorizer, ZapRequest, ZapStats } from './zap.js';
