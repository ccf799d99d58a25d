/**
 * Options, defaults and counters of the Majordomo broker. Defaults follow the book's mdbroker
 * (heartbeat 2500 ms, liveness 3) where the book has a value; the limits the book lacks (request
 * TTL, queue bound, message size) have conservative defaults, documented in docs/majordomo.md.
 */
import {
  optional,
  resolveOptions,
  rules,
  silentLogger,
  systemClock,
  type Clock,
  type Logger,
  type OptionRule,
  type ResolvedOptions,
  type SecurityOptions,
} from '@zpatterns/core';

/** Where a broker is bound, by role: what `broker.endpoints` returns. */
export interface BrokerEndpoints {
  /** Every endpoint bound from `bind`: clients connect here (and workers may). */
  readonly clients: readonly string[];
  /** Every endpoint bound from `workerBind`: workers only. */
  readonly workers: readonly string[];
}

/** Options of `new Broker(options)`; `brokerDefaults` holds the defaults. */
export interface BrokerOptions {
  /**
   * Endpoint(s) `start()` binds for clients (and for workers too, unless `workerBind` is given),
   * e.g. `tcp://127.0.0.1:5555` or `tcp://127.0.0.1:*` (the port the kernel chose is in
   * `endpoints`). Required: at least one.
   */
  bind: string | readonly string[];
  /**
   * Per-role sockets: endpoint(s) of a second ROUTER that `start()` binds for workers. Worker
   * commands on the client endpoints are then refused with DISCONNECT, and client requests on the
   * worker endpoints dropped. @default undefined (one ROUTER for both, the book's design)
   */
  workerBind?: string | readonly string[] | undefined;
  /**
   * CURVE of the worker ROUTER (with `workerBind`): its own key pair and allow-list.
   * @default `security`
   */
  workerSecurity?: SecurityOptions | undefined;
  /** Interval of the broker's heartbeats to every worker, and of its expiry pass. @default 2500 */
  heartbeatIntervalMs?: number | undefined;
  /**
   * Heartbeat intervals of silence after which a worker (idle or busy) is declared dead. The
   * worker's timeout is `heartbeatIntervalMs * liveness`. @default 3
   */
  liveness?: number | undefined;
  /**
   * How long a request may wait in a service's queue for a worker, counted from its arrival at the
   * broker, before it is dropped (MDP has no error reply: the client's own timeout reports it).
   * Checked once per heartbeat interval. @default 30000
   */
  requestTtlMs?: number | undefined;
  /**
   * Bytes of queued requests, all services together, at most (frames plus about 100 bytes of
   * overhead per request). Past it, new requests are refused (counted in `refused`, one
   * warning per second with the figures) and the accepted ones are kept. 256 MiB holds the book's
   * 100,000 pipelined requests many times over. @default 268435456
   */
  maxQueuedBytes?: number | undefined;
  /**
   * Bytes of queued requests one client (one connection) may hold at most, within
   * `maxQueuedBytes`: a client flooding the broker has its own new requests refused past its
   * share, while other clients still get theirs queued. @default 67108864 (a quarter of the bound)
   */
  maxQueuedBytesPerClient?: number | undefined;
  /**
   * Services whose requests may safely run twice: a request in flight on a worker that dies or
   * disconnects is requeued at the head of its queue instead of being dropped. @default []
   */
  idempotentServices?: readonly string[] | undefined;
  /** Frames per inbound message at most (identity included); larger messages are dropped. @default 256 */
  maxFramesPerMessage?: number | undefined;
  /**
   * Bytes per inbound message at most (all frames); larger messages are dropped. It is also the
   * frame limit of the broker's own ROUTERs: libzmq drops the connection of a peer that sends a
   * single bigger frame. @default 16777216
   */
  maxMessageBytes?: number | undefined;
  /** ROUTER send high-water mark per peer (libzmq's default). @default 1000 */
  sendHighWaterMark?: number | undefined;
  /** ROUTER receive high-water mark per peer (libzmq's default). @default 1000 */
  receiveHighWaterMark?: number | undefined;
  /** How long `close()` lets libzmq flush the final DISCONNECTs. @default 100 */
  lingerMs?: number | undefined;
  /** Warnings about malformed input logged per second at most (all are counted). @default 10 */
  maxWarningsPerSecond?: number | undefined;
  /** Log a `stats` summary line at info this often; 0 turns it off. @default 0 */
  statsIntervalMs?: number | undefined;
  /**
   * High availability: asked once per client request (MMI included; worker traffic never counts)
   * whether this broker may serve it. A Binary Star reactor (`BinaryStar` from `@zpatterns/bstar`)
   * is such a voter: the passive broker of a pair drops client requests without a reply and keeps
   * its workers registered. @default always serve
   */
  clientVoter?: ClientVoter | undefined;
  /** Parent logger; the broker logs under `{component: 'broker'}`. @default silent */
  logger?: Logger | undefined;
  /** Time source for heartbeats and expiry. @default systemClock */
  clock?: Clock | undefined;
  /**
   * CURVE: the broker's key pair and who may connect (`authorize`, checked by ZAP). With it, plain
   * clients and workers are refused. @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
}

/** Decides, per client request, whether this broker serves it (see `clientVoter`). */
export interface ClientVoter {
  /** `true` to serve the request that is being dispatched now, `false` to drop it without a reply. */
  vote(): boolean;
}

/**
 * A hook on the broker's hot path, for per-service metrics: told of each client request (MMI
 * excluded) and each FINAL reply. Set with `observeBroker()` from `@zpatterns/majordomo/internal`
 * (the mdbroker daemon's histograms); keep the callbacks cheap.
 */
export interface BrokerObserver {
  /** A client request for `service` arrived (before it is queued). */
  request?(service: string): void;
  /** A reply from `service` went back to its client, `latencyMs` after the request arrived. */
  reply?(service: string, latencyMs: number): void;
}

const ALWAYS_SERVE: ClientVoter = { vote: () => true };

/**
 * The broker's defaults: the book's heartbeat (2500 ms, liveness 3), requests expire after 30 s
 * unanswered, queued request bodies capped at 256 MiB in all.
 */
export const brokerDefaults = {
  heartbeatIntervalMs: 2500,
  liveness: 3,
  requestTtlMs: 30_000,
  maxQueuedBytes: 256 * 1024 * 1024,
  maxQueuedBytesPerClient: 64 * 1024 * 1024,
  idempotentServices: [] as readonly string[],
  maxFramesPerMessage: 256,
  maxMessageBytes: 16 * 1024 * 1024,
  sendHighWaterMark: 1000,
  receiveHighWaterMark: 1000,
  lingerMs: 100,
  maxWarningsPerSecond: 10,
  statsIntervalMs: 0,
  clientVoter: ALWAYS_SERVE,
  logger: silentLogger(),
  clock: systemClock,
};

/** The broker's options after defaults are applied. */
export type ResolvedBrokerOptions = ResolvedOptions<BrokerOptions, typeof brokerDefaults> & {
  readonly bind: string | readonly string[];
};

const endpoints: OptionRule = {
  must: 'an endpoint or a non-empty list of endpoints',
  test: (v) =>
    (typeof v === 'string' && v !== '') ||
    (Array.isArray(v) && v.length > 0 && v.every((e) => typeof e === 'string' && e !== '')),
};

const stringList: OptionRule = {
  must: 'a list of strings',
  test: (v) => Array.isArray(v) && v.every((e) => typeof e === 'string'),
};

const voter: OptionRule = {
  must: 'an object with a vote() method',
  test: (v) => typeof (v as { vote?: unknown } | null)?.vote === 'function',
};

/** Merge `options` over the defaults and check every value. Throws `InvalidArgumentError`. */
export function resolveBrokerOptions(options: BrokerOptions): ResolvedBrokerOptions {
  return resolveOptions('Broker', options, brokerDefaults, {
    bind: endpoints,
    workerBind: optional(endpoints),
    heartbeatIntervalMs: rules.positive,
    liveness: rules.positiveInteger,
    requestTtlMs: rules.positive,
    maxQueuedBytes: rules.positive,
    maxQueuedBytesPerClient: rules.positive,
    idempotentServices: stringList,
    maxFramesPerMessage: rules.positiveInteger,
    maxMessageBytes: rules.positiveInteger,
    sendHighWaterMark: rules.nonNegativeInteger,
    receiveHighWaterMark: rules.nonNegativeInteger,
    lingerMs: rules.nonNegative,
    maxWarningsPerSecond: rules.nonNegative,
    statsIntervalMs: rules.nonNegative,
    clientVoter: voter,
  }) as ResolvedBrokerOptions; // the `bind` rule makes it present
}

/** `bind` / `workerBind` as a list (checked already). */
export function endpointList(value: string | readonly string[] | undefined): string[] {
  return value === undefined ? [] : typeof value === 'string' ? [value] : [...value];
}

/**
 * Counters of everything the broker did (monotonic). `broker.stats` returns a fresh snapshot on
 * every read.
 */
export interface BrokerStats {
  /** Messages read from the ROUTER, of any kind (valid or not). */
  received: number;
  /** Client requests received, MMI included. */
  requests: number;
  /** Client requests dropped unanswered because `clientVoter` refused them (the passive of a pair). */
  refusedPassive: number;
  /** FINAL replies (MDP/0.1 REPLY) forwarded to clients. */
  replies: number;
  /** MDP/0.2 PARTIAL replies forwarded to MDP/0.2 clients. */
  partials: number;
  /** PARTIAL replies dropped because the client speaks MDP/0.1 (which has no partials). */
  partialsDropped: number;
  /** REQUESTs sent to workers (a requeued request counts again when re-sent). */
  dispatched: number;
  /** `mmi.*` requests answered by the broker itself. */
  mmi: number;
  /** Inbound messages dropped as malformed (oversize included). */
  malformed: number;
  /** Of `malformed`: over `maxFramesPerMessage` or `maxMessageBytes`. */
  oversize: number;
  /** Valid commands a worker should not have sent at that point (each answered with DISCONNECT). */
  protocolErrors: number;
  /** DISCONNECTs sent to workers (violations, expiry, shutdown). */
  disconnectsSent: number;
  /** DISCONNECTs received from workers. */
  disconnectsReceived: number;
  /** READYs accepted. */
  workersRegistered: number;
  /** Workers declared dead after `heartbeatIntervalMs * liveness` of silence. */
  expiredWorkers: number;
  /** Workers removed because a send to them failed with EHOSTUNREACH (they disconnected). */
  unreachableWorkers: number;
  /** Requests dropped after waiting `requestTtlMs` for a worker. */
  expiredRequests: number;
  /** Requests dropped for any other reason: `lostInFlight`. */
  droppedRequests: number;
  /** New requests refused because the queued bytes were at `maxQueuedBytes` or the client's share. */
  refused: number;
  /** Of `refused`: the client had `maxQueuedBytesPerClient` queued already. */
  refusedClientShare: number;
  /** Of `droppedRequests`: in flight on a worker that died, service not idempotent. */
  lostInFlight: number;
  /**
   * Requests put back at the head of their queue: in flight on a worker that died (idempotent
   * services), or never delivered because the send to the worker failed (any service).
   */
  requeued: number;
  /** Of `requeued`: the REQUEST to the worker failed (EHOSTUNREACH, EAGAIN), so it never ran. */
  requeuedUnsent: number;
  /** Sends libzmq refused (peer gone: EHOSTUNREACH, or at its high-water mark: EAGAIN). */
  sendFailures: number;
  /** HEARTBEATs sent to workers. */
  heartbeatsSent: number;
}

export function createBrokerStats(): BrokerStats {
  return {
    received: 0,
    requests: 0,
    replies: 0,
    partials: 0,
    partialsDropped: 0,
    dispatched: 0,
    refusedPassive: 0,
    mmi: 0,
    malformed: 0,
    oversize: 0,
    protocolErrors: 0,
    disconnectsSent: 0,
    disconnectsReceived: 0,
    workersRegistered: 0,
    expiredWorkers: 0,
    unreachableWorkers: 0,
    expiredRequests: 0,
    droppedRequests: 0,
    refused: 0,
    refusedClientShare: 0,
    lostInFlight: 0,
    requeued: 0,
    requeuedUnsent: 0,
    sendFailures: 0,
    heartbeatsSent: 0,
  };
}

/** What the broker holds right now (computed on demand). */
export interface BrokerGauges {
  /** Services known: with registered workers or queued requests. */
  services: number;
  /** Workers registered (idle or busy). */
  workers: number;
  /** Of `workers`: waiting for a request. */
  idleWorkers: number;
  /** Of `workers`: holding a request. */
  busyWorkers: number;
  /** Requests waiting in service queues for a worker. */
  queuedRequests: number;
  /** Bytes of the queued requests, as counted against `maxQueuedBytes`. */
  queuedBytes: number;
}
