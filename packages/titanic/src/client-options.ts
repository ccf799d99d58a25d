/**
 * What `TitanicClient` takes and reports: its options and defaults, the per-call options, the
 * result of a poll, its counters and its status events.
 */
import type { ServerAliveStatus, ServerDeadStatus } from '@zpatterns/core';
import { majordomoClientDefaults, type ClientStats, type MajordomoClientOptions } from '@zpatterns/majordomo';

/**
 * Every `MajordomoClient` option (the TSP calls go through one), plus the polling pace of
 * `waitReply`. 9/TSP is defined over MDP/0.1, the default `version`. `timeoutMs`, when set, is the
 * default bound of every call of the client (`submit`, `poll`, `waitReply`, `closeRequest`,
 * `call`), each as a whole; `attemptTimeoutMs` and `retries` govern each MDP request.
 */
export interface TitanicClientOptions extends MajordomoClientOptions {
  /** First delay between `titanic.reply` polls in `waitReply`. @default 100 */
  pollIntervalMs?: number;
  /** Largest delay between polls (the book's ticlient waits 5 s). @default 5000 */
  maxPollIntervalMs?: number;
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

/** Per-call options of `submit()`, `poll()` and `closeRequest()`. */
export interface TitanicCallOptions {
  /**
   * Bound of the whole call (every attempt and pause): past it the call rejects with an error of
   * code `ERR_TIMEOUT`. @default the client's `timeoutMs` (none: bounded by the attempts)
   */
  timeoutMs?: number | undefined;
  /** Wait for one reply before resending (an MDP attempt). @default the client's `attemptTimeoutMs` */
  attemptTimeoutMs?: number | undefined;
  /** Resends after the first attempt. @default the client's `retries` */
  retries?: number | undefined;
  /** Abandon the call: it rejects with `AbortError` (its `cause` the signal's reason). */
  signal?: AbortSignal | undefined;
}

/** What `poll()` found. */
export type PollResult = { status: 'ok'; body: Buffer[] } | { status: 'pending' } | { status: 'unknown' };

/** Options of `waitReply(uuid, options)` and `call(service, body, options)`. */
export interface WaitReplyOptions extends TitanicCallOptions {
  /**
   * Bound of the whole wait (every poll and pause; for `call()` the submission and the close too):
   * past it the call rejects with `TimeoutError`. The request stays stored; wait again later.
   * @default the client's `timeoutMs` (none: wait for ever)
   */
  timeoutMs?: number | undefined;
  /** Stop waiting: rejects with `AbortError`. The request stays stored; poll again later. */
  signal?: AbortSignal | undefined;
  /** First delay between polls. @default the client's `pollIntervalMs` */
  pollIntervalMs?: number | undefined;
  /** Largest delay between polls. @default the client's `maxPollIntervalMs` */
  maxPollIntervalMs?: number | undefined;
}

/**
 * The client's status events (beside `started` and `closed`): `server-dead` when a TSP call ran out
 * of attempts with no answer (Titanic or its broker is down; `waitReply` keeps polling), then
 * `server-alive` at the next answer (`server` is the broker's endpoint); `failover` when, with
 * several `brokers`, the MDP client moves to the next one.
 */
export type TitanicClientStatus =
  | ServerDeadStatus
  | ServerAliveStatus
  | {
      readonly type: 'failover';
      /** The broker an attempt timed out on. */
      readonly from: string;
      /** The broker requests go to now. */
      readonly to: string;
    };

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
  /** TSP calls that ran out of attempts without an answer. */
  unanswered: number;
  /** The underlying MDP client's counters (requests, resends, timeouts, sockets). */
  mdp: ClientStats;
}

/** The options with the polling defaults applied. */
export type ResolvedClientOptions = Omit<TitanicClientOptions, 'pollIntervalMs' | 'maxPollIntervalMs' | 'clock'> & {
  pollIntervalMs: number;
  maxPollIntervalMs: number;
  clock: NonNullable<TitanicClientOptions['clock']>;
};
