/**
 * Options of the Majordomo clients (`MajordomoClient` and `MajordomoPipeline`). Defaults are the
 * book's mdcliapi: 2500 ms per attempt, 3 retries.
 */
import {
  invalidOption,
  oneOf,
  resolveOptions,
  rules,
  systemClock,
  type Clock,
  type Logger,
  type OptionRule,
  type ResolvedOptions,
  type SecurityOptions,
} from '@zpatterns/core';
import { inboundLimitDefaults } from './inbound-limits.js';
import type { MdpVersion } from './codec.js';

/** Options of `new MajordomoClient(options)`; `majordomoClientDefaults` holds the defaults. */
export interface MajordomoClientOptions {
  /**
   * Broker endpoint to connect to, e.g. `tcp://127.0.0.1:5555`. Required unless `brokers` is
   * given (then it is the first of them).
   */
  broker?: string | undefined;
  /**
   * A high-availability pair (or any ordered list) of brokers, primary first: after an attempt
   * times out, the next attempt goes to the next broker, after `failoverDelayMs` (Binary Star's
   * client rules). Overrides `broker`.
   */
  brokers?: readonly string[] | undefined;
  /**
   * With several `brokers`: the wait before an attempt that fails over to another broker. Keep it
   * at least the pair's failover time (2 Binary Star heartbeats) so the passive broker, which has
   * seen its peer go silent by then, takes the request as its vote. @default 2000
   */
  failoverDelayMs?: number | undefined;
  /** MDP version spoken on the wire: '0.1' (7/MDP, the book's) or '0.2' (18/MDP). @default '0.1' */
  version?: MdpVersion | undefined;
  /** How long one attempt waits for the reply before resending on a fresh socket. @default 2500 */
  attemptTimeoutMs?: number | undefined;
  /**
   * Bound of a whole `request()` call (every attempt, wait for a socket and failover delay
   * included), after which it rejects with core's `TimeoutError` (with `attempts`).
   * @default Infinity (bounded by the attempts: `(1 + retries) x attemptTimeoutMs` plus delays)
   */
  timeoutMs?: number | undefined;
  /** Resends after the first attempt before giving up with core's `TimeoutError`. @default 3 */
  retries?: number | undefined;
  /**
   * Most DEALER sockets open at once, i.e. most requests in flight (MDP/0.1 has no request id,
   * so each outstanding request owns a socket). Callers beyond it wait in FIFO order. @default 64
   */
  maxSockets?: number | undefined;
  /** Idle sockets kept for reuse; more are closed when their request completes. @default 16 */
  maxIdleSockets?: number | undefined;
  /**
   * Frames in one reply at most (the broker's own bound); a reply with more is dropped, counted in
   * `stats.oversize` and warned about, and its request times out. @default 256
   */
  maxFramesPerMessage?: number | undefined;
  /**
   * Bytes in one reply at most, all frames together (the broker's own bound); dropped like
   * `maxFramesPerMessage`. It is also the frame limit of the client's sockets: libzmq drops the
   * connection when a single bigger frame arrives. @default 16777216 (16 MiB)
   */
  maxMessageBytes?: number | undefined;
  /**
   * CURVE: this side's key pair and the broker's public key. Without it the connection is plain.
   * @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger (pino); the client logs under a child. @default silent */
  logger?: Logger | undefined;
  /** Time source for the attempt timers. @default systemClock */
  clock?: Clock | undefined;
}

/**
 * The client's defaults: MDP/0.1, the book's 2500 ms per attempt and 3 resends (`retries`), 2 s
 * before failing over to the next broker, no bound on the whole call beyond the attempts.
 */
export const majordomoClientDefaults = {
  version: '0.1' as MdpVersion,
  failoverDelayMs: 2000,
  attemptTimeoutMs: 2500,
  timeoutMs: Number.POSITIVE_INFINITY,
  retries: 3,
  maxSockets: 64,
  maxIdleSockets: 16,
  maxFramesPerMessage: inboundLimitDefaults.maxFramesPerMessage,
  maxMessageBytes: inboundLimitDefaults.maxMessageBytes,
  clock: systemClock,
};

/** The client's options after defaults are applied; `brokers` is the list in use. */
export type ResolvedClientOptions = ResolvedOptions<MajordomoClientOptions, typeof majordomoClientDefaults> & {
  readonly broker: string;
  readonly brokers: readonly string[];
};

const endpointList: OptionRule = {
  must: 'a non-empty list of endpoints',
  test: (v) => Array.isArray(v) && v.length > 0 && v.every((e) => typeof e === 'string' && e !== ''),
};

/** The rules of the options a call may override, shared with `request()`. */
export const callRules = {
  attemptTimeoutMs: rules.positive,
  timeoutMs: rules.positiveOrInfinity,
  retries: rules.nonNegativeInteger,
} as const;

/** Merge and check the options once, in the constructor. Throws `InvalidArgumentError`. */
export function resolveClientOptions(options: MajordomoClientOptions): ResolvedClientOptions {
  const brokers = options.brokers ?? (options.broker === undefined ? undefined : [options.broker]);
  const o = resolveOptions('MajordomoClient', { ...options, brokers }, majordomoClientDefaults, {
    broker: rules.nonEmptyString,
    brokers: endpointList,
    failoverDelayMs: rules.nonNegative,
    version: oneOf('0.1', '0.2'),
    ...callRules,
    maxSockets: rules.positiveInteger,
    maxIdleSockets: rules.nonNegativeInteger,
    maxFramesPerMessage: rules.positiveInteger,
    maxMessageBytes: rules.positiveInteger,
  });
  if (o.brokers === undefined)
    throw invalidOption('MajordomoClient', 'broker', 'an endpoint (or brokers: a list)', undefined);
  return { ...o, broker: o.brokers[0] as string, brokers: [...o.brokers] };
}
