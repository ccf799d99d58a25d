/**
 * The options, defaults, counters and status events of `LazyPirateClient`.
 */
import {
  optional,
  rules,
  systemClock,
  type Clock,
  type ConnectedEvent,
  type DisconnectedEvent,
  type FailoverEvent,
  type Logger,
  type ReconnectingEvent,
  type SecurityOptions,
} from '@zpatterns/core';
import { LAZY_PIRATE_ATTEMPT_TIMEOUT_MS, LAZY_PIRATE_RETRIES } from './defaults.js';

/** Options of `new LazyPirateClient(options)`; `lazyPirateClientDefaults` holds the defaults. */
export interface LazyPirateClientOptions {
  /** One endpoint, or several tried in turn after each timeout (failover), in priority order. */
  servers: string | readonly string[];
  /** How long each attempt waits for a reply before the request is resent. @default 2500 */
  attemptTimeoutMs?: number | undefined;
  /**
   * Bound on a whole `request()`: every attempt, the settle delays and the wait for its turn. On
   * expiry it rejects with core's `TimeoutError`. @default unbounded beyond the attempts
   */
  timeoutMs?: number | undefined;
  /**
   * Resends after the first send before giving up with `TimeoutError`: a request is sent at most
   * `retries + 1` times. The default 2 gives the book's three sends (its `REQUEST_RETRIES` 3
   * counts the first send too). `0` sends once and never resends. @default 2
   */
  retries?: number | undefined;
  /**
   * lpclient's sequence check: put a decimal sequence number (`"1"`, `"2"`, ...) before the
   * request frames and accept only a reply whose first frame echoes it; that frame is removed from
   * the reply you get. `request([])` then sends exactly lpclient's message. Needs a server that
   * echoes the first frame (lpserver, an echo worker). A reply that fails the check counts as a
   * failed attempt. @default false
   */
  sequenceCheck?: boolean | undefined;
  /**
   * Wait this long before an attempt that fails over to another server (several servers only).
   * A Binary Star client sets it to at least the pair's failover time (2 heartbeats), so the
   * backup has seen its peer go silent when the resent request arrives and takes it as a vote.
   * @default 0
   */
  settleDelayMs?: number | undefined;
  /** Linger of each REQ socket when it is discarded or closed. @default 0 */
  lingerMs?: number | undefined;
  /**
   * CURVE: this side's key pair and the server's public key. Without it the connection is plain.
   * @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
  /** Time source for the timeouts and delays. @default systemClock */
  clock?: Clock | undefined;
}

/**
 * The book's lpclient settings: 2500 ms per attempt, 2 resends (three sends in all), no sequence
 * check, no bound on the whole request beyond its attempts.
 */
export const lazyPirateClientDefaults = {
  attemptTimeoutMs: LAZY_PIRATE_ATTEMPT_TIMEOUT_MS,
  timeoutMs: undefined,
  retries: LAZY_PIRATE_RETRIES,
  sequenceCheck: false,
  settleDelayMs: 0,
  lingerMs: 0,
  clock: systemClock,
} as const;

/** The check of each option. */
export const lazyPirateClientRules = {
  attemptTimeoutMs: rules.positive,
  timeoutMs: optional(rules.positive),
  retries: rules.nonNegativeInteger,
  sequenceCheck: rules.boolean,
  settleDelayMs: rules.nonNegative,
  lingerMs: rules.nonNegative,
  servers: rules.nonEmptyArray,
};

/** Counters of one `LazyPirateClient`. */
export interface LazyPirateClientStats {
  /** Calls to `request()` that got their turn. */
  requests: number;
  /** Requests answered. */
  replies: number;
  /** Requests sent again after a timeout or a bad reply (resends). */
  retries: number;
  /** Requests that ended with `TimeoutError` (out of attempts or out of time). */
  timeouts: number;
  /** Replies rejected by the sequence check. */
  malformed: number;
  /** REQ sockets opened (the first one included). */
  sockets: number;
  /** Moves to the next server after a timeout (several servers only). */
  failovers: number;
}

/**
 * What `status()` yields besides `started` and `closed`: a server answered on a new socket
 * (`connected`), a server that had answered fell silent for a whole attempt (`disconnected`,
 * `reason: 'silent'`), a resend on a new socket (`reconnecting`), a move to the next server
 * (`failover`). Your own abort and a whole-call `timeoutMs` that cuts an attempt short discard the
 * socket without an event.
 */
export type LazyPirateClientStatus = ConnectedEvent | DisconnectedEvent | ReconnectingEvent | FailoverEvent;
