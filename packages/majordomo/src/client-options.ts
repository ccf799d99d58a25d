/**
 * Options of the Majordomo clients (`MajordomoClient` and `MajordomoPipeline`) and of one
 * `request()` call. Defaults are the book's mdcliapi: 2500 ms per attempt, 3 retries.
 */
import { definedOnly, systemClock, type Clock, type Logger, type SecurityOptions } from '@zpatterns/core';
import { MajordomoOptionsError } from './errors.js';
import { inboundLimitDefaults } from './inbound-limits.js';
import type { MdpVersion } from './codec.js';

/** Options of `new MajordomoClient(options)`; `majordomoClientDefaults` holds the defaults. */
export interface MajordomoClientOptions {
  /**
   * Broker endpoint to connect to, e.g. `tcp://127.0.0.1:5555`. Required unless `brokers` is
   * given (then it is the first of them).
   */
  broker?: string;
  /**
   * A high-availability pair (or any ordered list) of brokers, primary first: after an attempt
   * times out, the next attempt goes to the next broker, after `failoverDelayMs` (Binary Star's
   * client rules). Overrides `broker`.
   */
  brokers?: readonly string[];
  /**
   * With several `brokers`: the wait before an attempt that fails over to another broker. Keep it
   * at least the pair's failover time (2 Binary Star heartbeats) so the passive broker, which has
   * seen its peer go silent by then, takes the request as its vote. @default 2000
   */
  failoverDelayMs?: number;
  /** MDP version spoken on the wire: '0.1' (7/MDP, the book's) or '0.2' (18/MDP). @default '0.1' */
  version?: MdpVersion;
  /** How long one attempt waits for the reply before resending on a fresh socket. @default 2500 */
  attemptTimeoutMs?: number;
  /**
   * Bound of a whole `request()` call (every attempt, wait for a socket and failover delay
   * included), after which it rejects with `MajordomoTimeoutError`.
   * @default undefined (bounded by the attempts: `(1 + retries) x attemptTimeoutMs` plus delays)
   */
  timeoutMs?: number | undefined;
  /** Resends after the first attempt before giving up with `MajordomoTimeoutError`. @default 3 */
  retries?: number;
  /**
   * Most DEALER sockets open at once, i.e. most requests in flight (MDP/0.1 has no request id,
   * so each outstanding request owns a socket). Callers beyond it wait in FIFO order. @default 64
   */
  maxSockets?: number;
  /** Idle sockets kept for reuse; more are closed when their request completes. @default 16 */
  maxIdleSockets?: number;
  /**
   * Frames in one reply at most (the broker's own bound); a reply with more is dropped, counted in
   * `stats.oversize` and warned about, and its request times out. @default 256
   */
  maxFramesPerMessage?: number;
  /**
   * Bytes in one reply at most, all frames together (the broker's own bound); dropped like
   * `maxFramesPerMessage`. A single frame over the process-wide `--max-message-bytes` makes libzmq
   * drop the connection instead. @default 16777216 (16 MiB)
   */
  maxMessageBytes?: number;
  /**
   * CURVE: this side's key pair and the broker's public key. Without it the connection is plain.
   * @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger (pino); the client logs under a child. @default silent */
  logger?: Logger | undefined;
  /** Time source for the attempt timers. @default systemClock */
  clock?: Clock;
}

/**
 * The client's defaults: MDP/0.1, the book's 2500 ms per attempt and 3 resends (`retries`), 2 s
 * before failing over to the next broker, no bound on the whole call beyond the attempts.
 */
export const majordomoClientDefaults: Required<
  Omit<MajordomoClientOptions, 'broker' | 'brokers' | 'logger' | 'security' | 'timeoutMs'>
> = {
  version: '0.1',
  failoverDelayMs: 2000,
  attemptTimeoutMs: 2500,
  retries: 3,
  maxSockets: 64,
  maxIdleSockets: 16,
  maxFramesPerMessage: inboundLimitDefaults.maxFramesPerMessage,
  maxMessageBytes: inboundLimitDefaults.maxMessageBytes,
  clock: systemClock,
};

/** The client's options after defaults are applied, as `client.options` shows them. */
export type ResolvedClientOptions = Required<Omit<MajordomoClientOptions, 'logger' | 'security' | 'timeoutMs'>> & {
  /** The whole-call bound, or `undefined` for none beyond the attempts. */
  timeoutMs: number | undefined;
  /** The parent logger given, if any. */
  logger: Logger | undefined;
  /** The CURVE options given, if any. */
  security: SecurityOptions | undefined;
};

/** Merge and check the options once, in the constructor. */
export function resolveClientOptions(options: MajordomoClientOptions): ResolvedClientOptions {
  const brokers = options.brokers ?? (options.broker === undefined ? [] : [options.broker]);
  if (brokers.length === 0 || brokers.some((b) => typeof b !== 'string' || b === ''))
    throw new MajordomoOptionsError('broker: an endpoint is required (or brokers: a non-empty list of endpoints)');
  const o = {
    ...majordomoClientDefaults,
    ...definedOnly(options),
    broker: brokers[0] as string,
    brokers: [...brokers],
    timeoutMs: options.timeoutMs,
    logger: options.logger,
    security: options.security,
  };
  checkCount('failoverDelayMs', o.failoverDelayMs, 0);
  if (o.version !== '0.1' && o.version !== '0.2') throw new MajordomoOptionsError(`version: expected '0.1' or '0.2'`);
  checkPositive('attemptTimeoutMs', o.attemptTimeoutMs);
  if (o.timeoutMs !== undefined) checkPositive('timeoutMs', o.timeoutMs);
  checkCount('retries', o.retries, 0);
  checkCount('maxSockets', o.maxSockets, 1);
  checkCount('maxIdleSockets', o.maxIdleSockets, 0);
  checkCount('maxFramesPerMessage', o.maxFramesPerMessage, 1);
  checkCount('maxMessageBytes', o.maxMessageBytes, 1);
  return o;
}

/** Per-call options of `MajordomoClient.request()`. */
export interface RequestOptions {
  /**
   * Bound of this whole call (all attempts and waits): past it the call rejects with
   * `MajordomoTimeoutError`. Overrides the client's `timeoutMs`.
   */
  timeoutMs?: number | undefined;
  /** Overrides the client's `attemptTimeoutMs` (the wait of one attempt) for this call. */
  attemptTimeoutMs?: number | undefined;
  /** Overrides the client's `retries` for this call. */
  retries?: number | undefined;
  /** Abort the call: it rejects with `AbortError` and its socket is discarded. */
  signal?: AbortSignal | undefined;
  /**
   * MDP/0.2 only: called with the body of every PARTIAL reply, in order, before `request()`
   * resolves with the FINAL body. Once a PARTIAL has been delivered the request is not resent
   * (that would deliver the partials twice): a later timeout rejects at once.
   */
  onPartial?: ((body: Buffer[]) => void) | undefined;
}

export function checkPositive(name: string, value: number): void {
  if (!(typeof value === 'number' && value > 0))
    throw new MajordomoOptionsError(`${name}: expected a number > 0, got ${String(value)}`);
}

export function checkCount(name: string, value: number, min: number): void {
  if (!(Number.isInteger(value) && value >= min)) {
    throw new MajordomoOptionsError(`${name}: expected a whole number >= ${min}, got ${String(value)}`);
  }
}
