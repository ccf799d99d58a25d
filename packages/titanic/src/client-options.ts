/**
 * What `TitanicClient` takes and reports: its options and defaults, the per-call options, the
 * result of a poll, its counters and its status events.
 */
import {
  rules,
  type ConnectedEvent,
  type DisconnectedEvent,
  type FailoverEvent,
  type OptionRules,
  type RequestOptions,
  type ResolvedOptions,
} from '@zpatterns/core';
import { majordomoClientDefaults, type ClientStats, type MajordomoClientOptions } from '@zpatterns/majordomo';

/**
 * Every `MajordomoClient` option (the TSP calls go through one), plus the polling pace of
 * `waitReply`. 9/TSP is defined over MDP/0.1, the default `version`. `timeoutMs`, when set, is the
 * default bound of every call of the client (`submit`, `poll`, `waitReply`, `closeRequest`,
 * `call`), each as a whole; `attemptTimeoutMs` and `retries` govern each MDP request.
 */
export interface TitanicClientOptions extends MajordomoClientOptions {
  /** First delay between `titanic.reply` polls in `waitReply`. @default 100 */
  pollIntervalMs?: number | undefined;
  /** Largest delay between polls (the book's ticlient waits 5 s). @default 5000 */
  maxPollIntervalMs?: number | undefined;
}

/**
 * The client's defaults: those of `MajordomoClient` for each TSP call (2500 ms per attempt, 3
 * resends, no whole-call bound), and `waitReply()` polling every 100 ms at first, backing off to 5 s.
 */
export const titanicClientDefaults = {
  ...majordomoClientDefaults,
  pollIntervalMs: 100,
  maxPollIntervalMs: 5000,
} as const;

/** What `poll()` found. */
export type PollResult = { status: 'ok'; body: Buffer[] } | { status: 'pending' } | { status: 'unknown' };

/**
 * Options of `waitReply(uuid, options)` and `call(service, body, options)`: `timeoutMs` bounds the
 * whole wait (every poll and pause; for `call()` the submission and the close too), past which the
 * call rejects with `TimeoutError` (@default the client's `timeoutMs`; none: wait for ever);
 * `signal` stops it with `AbortError`. Either way the request stays stored: wait again later.
 * `attemptTimeoutMs` and `retries` apply to each TSP request the call makes.
 */
export interface WaitReplyOptions extends RequestOptions {
  /** First delay between polls. @default the client's `pollIntervalMs` */
  pollIntervalMs?: number | undefined;
  /** Largest delay between polls. @default the client's `maxPollIntervalMs` */
  maxPollIntervalMs?: number | undefined;
}

/**
 * The client's status events (beside `started` and `closed`): `connected` when Titanic (through
 * its broker, `peer`) first answers a TSP request, and again at the first answer after it was lost;
 * `disconnected` (`reason: 'silent'`, `silentMs` since the last answer) when a TSP request ran out
 * of attempts unanswered (Titanic or its broker is down; `waitReply` keeps polling); `failover`
 * when, with several `brokers`, the MDP client moves to the next one.
 */
export type TitanicClientStatus = ConnectedEvent | DisconnectedEvent | FailoverEvent;

/** Counters of a `TitanicClient`; `client.stats` is a snapshot. */
export interface TitanicClientStats {
  /** Requests Titanic acknowledged as stored (`submit` resolved with a UUID). */
  submitted: number;
  /** `titanic.reply` calls answered (`poll`, also the polls of `waitReply`). */
  polls: number;
  /** Replies received (`poll` found the reply). */
  replies: number;
  /** `titanic.close` calls answered. */
  closes: number;
  /**
   * TSP requests (`submit`, `poll`, `closeRequest`, and each poll of `waitReply` and `call`) that
   * ended in `TimeoutError`: out of attempts, or past their `timeoutMs`.
   */
  timeouts: number;
  /** The underlying MDP client's counters (requests, resends, timeouts, sockets). */
  mdp: ClientStats;
}

/** The checks of the options the client applies itself (`MajordomoClient` checks the others). */
export const titanicClientRules: OptionRules<TitanicClientOptions> = {
  timeoutMs: rules.positiveOrInfinity,
  pollIntervalMs: rules.positive,
  maxPollIntervalMs: rules.positive,
};

/** The options with the defaults applied. */
export type ResolvedClientOptions = ResolvedOptions<TitanicClientOptions, typeof titanicClientDefaults>;
