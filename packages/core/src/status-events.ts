/**
 * The one vocabulary of status events. Every `status()` feed of every zpatterns object carries
 * only these events, each with exactly one meaning; a package's status type is a union of some
 * of them. A test over every package's public types fails on any other `type` or field.
 */

/** `start()` resolved: the object is ready. */
export interface StartedEvent {
  /** Always `'started'`. */
  readonly type: 'started';
}

/** The object ended; always the last event. `error` is why, when it stopped on its own. */
export interface ClosedEvent {
  /** Always `'closed'`. */
  readonly type: 'closed';
  /** Why the object stopped, when it stopped on its own or failed to start; absent after `close()`. */
  readonly error?: Error;
}

/**
 * The peer has answered us: the first message heard from it on this connection (a worker: the
 * broker's or queue's first heartbeat or request after READY; a Clone client: the snapshot from
 * it is applied; a multi-server client: a server answered a ping or a request).
 */
export interface ConnectedEvent {
  /** Always `'connected'`. */
  readonly type: 'connected';
  /** The peer's endpoint. */
  readonly peer: string;
  /** Connections made so far by this object, 1 for the first. */
  readonly session?: number;
}

/**
 * How a peer was lost: `silent` when nothing was heard from it for `silentMs`; `disconnect` when
 * it told us (an MDP DISCONNECT, say); `error` when we dropped the connection after a failure on
 * our side (a handler that threw, a message we could not read).
 */
export type DisconnectReason = 'silent' | 'disconnect' | 'error';

/** We lost the peer. Never emitted for your own `close()` or for a call you aborted. */
export interface DisconnectedEvent {
  /** Always `'disconnected'`. */
  readonly type: 'disconnected';
  /** The peer's endpoint. */
  readonly peer: string;
  /** How the peer was lost. */
  readonly reason: DisconnectReason;
  /** How long the peer had been silent, for `reason: 'silent'`. */
  readonly silentMs?: number;
  /** The connection that was lost, as counted by `connected`'s `session`. */
  readonly session?: number;
}

/** A new connection to `peer` is scheduled in `delayMs`; `attempt` counts failures since the last `connected`. */
export interface ReconnectingEvent {
  /** Always `'reconnecting'`. */
  readonly type: 'reconnecting';
  /** The peer the object reconnects to. */
  readonly peer: string;
  /** Failed connections since the last `connected`, 1 for the first. */
  readonly attempt: number;
  /** Milliseconds until the new connection. */
  readonly delayMs: number;
}

/** The object moved from one server to the next. */
export interface FailoverEvent {
  /** Always `'failover'`. */
  readonly type: 'failover';
  /** The server left. */
  readonly from: string;
  /** The server now used. */
  readonly to: string;
}

/**
 * Why a replica asks for a new snapshot: `gap` when an update's sequence skipped one; `behind`
 * when the server's heartbeat names a sequence the replica never received (updates went missing
 * at the tail); `restart` when the server's sequence went backwards.
 */
export type ResyncReason = 'gap' | 'behind' | 'restart';

/** A replica asks `peer` for a new snapshot. */
export interface ResyncEvent {
  /** Always `'resync'`. */
  readonly type: 'resync';
  /** The server the snapshot comes from. */
  readonly peer: string;
  /** Why the replica resynchronises. */
  readonly reason: ResyncReason;
}

/** A queue or broker took a worker on. */
export interface WorkerReadyEvent {
  /** Always `'worker-ready'`. */
  readonly type: 'worker-ready';
  /** The worker's identity, printable. */
  readonly worker: string;
  /** The service the worker offers, where there are services. */
  readonly service?: string;
}

/**
 * Why a queue or broker dropped a worker: `silent` when its heartbeats stopped; `disconnect` when
 * it said goodbye; `unreachable` when a message to it could not be routed; `error` when it broke
 * the protocol.
 */
export type WorkerRemovedReason = 'silent' | 'disconnect' | 'unreachable' | 'error';

/** A queue or broker dropped a worker. */
export interface WorkerRemovedEvent {
  /** Always `'worker-removed'`. */
  readonly type: 'worker-removed';
  /** The worker's identity, printable. */
  readonly worker: string;
  /** Why it was dropped. */
  readonly reason: WorkerRemovedReason;
  /** Whether it held a request (which is then requeued or answered as the pattern says). */
  readonly busy: boolean;
  /** The service the worker offered, where there are services. */
  readonly service?: string;
}

/** A broker's service gained its first worker. */
export interface ServiceAvailableEvent {
  /** Always `'service-available'`. */
  readonly type: 'service-available';
  /** The service name. */
  readonly service: string;
}

/** A broker's service lost its last worker. */
export interface ServiceUnavailableEvent {
  /** Always `'service-unavailable'`. */
  readonly type: 'service-unavailable';
  /** The service name. */
  readonly service: string;
}

/** A Binary Star node or a Clone server changed role. */
export interface RoleEvent {
  /** Always `'role'`. */
  readonly type: 'role';
  /** The role left. */
  readonly from: string;
  /** The role taken. */
  readonly to: string;
  /** What made it change, in words, where the object knows. */
  readonly reason?: string;
}

/** Both servers of a pair were active at once. */
export interface SplitBrainEvent {
  /** Always `'split-brain'`. */
  readonly type: 'split-brain';
  /** The other server. */
  readonly peer: string;
  /** Whether this server stays active, where the pattern decides. */
  readonly stays?: boolean;
  /** This server's last sequence, where the pattern has one. */
  readonly sequence?: bigint;
  /** The other server's last sequence, when it told us. */
  readonly peerSequence?: bigint;
}

/** The object lost something it needs (a store, a journal); `healthy` follows when it is back. */
export interface UnhealthyEvent {
  /** Always `'unhealthy'`. */
  readonly type: 'unhealthy';
  /** What is wrong, in words. */
  readonly reason: string;
  /** The error behind it, where there is one. */
  readonly error?: Error;
}

/** The object has what it needs again, after `unhealthy`. */
export interface HealthyEvent {
  /** Always `'healthy'`. */
  readonly type: 'healthy';
}

/** A bounded backlog reached its limit: new work is refused until `drained`. */
export interface SaturatedEvent {
  /** Always `'saturated'`. */
  readonly type: 'saturated';
  /** Work held now. */
  readonly queued: number;
  /** The bound. */
  readonly limit: number;
}

/** A backlog that was `saturated` went back under its limit. */
export interface DrainedEvent {
  /** Always `'drained'`. */
  readonly type: 'drained';
  /** Work held now. */
  readonly queued: number;
}

/** Every status event of zpatterns. */
export type StatusEvent =
  | StartedEvent
  | ClosedEvent
  | ConnectedEvent
  | DisconnectedEvent
  | ReconnectingEvent
  | FailoverEvent
  | ResyncEvent
  | WorkerReadyEvent
  | WorkerRemovedEvent
  | ServiceAvailableEvent
  | ServiceUnavailableEvent
  | RoleEvent
  | SplitBrainEvent
  | UnhealthyEvent
  | HealthyEvent
  | SaturatedEvent
  | DrainedEvent;

/** The `type` of a status event. */
export type StatusEventType = StatusEvent['type'];

/** Every status event type, in the order of the table in docs/api.md. */
export const STATUS_EVENT_TYPES: readonly StatusEventType[] = [
  'started',
  'closed',
  'connected',
  'disconnected',
  'reconnecting',
  'failover',
  'resync',
  'worker-ready',
  'worker-removed',
  'service-available',
  'service-unavailable',
  'role',
  'split-brain',
  'unhealthy',
  'healthy',
  'saturated',
  'drained',
];
