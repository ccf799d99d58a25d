/**
 * What a `TitanicServer` reports: its counters (`server.stats`) and its status events
 * (`server.status()`).
 */
import type {
  ConnectedEvent,
  DisconnectedEvent,
  DrainedEvent,
  HealthyEvent,
  SaturatedEvent,
  UnhealthyEvent,
} from '@zpatterns/core';
import type { DispatcherStats } from './dispatcher-options.js';

/** Counters of a `TitanicServer`; `server.stats` is a snapshot of them. */
export interface TitanicServerStats {
  /** Submissions stored and answered "200" with their UUID. */
  submitted: number;
  /** `titanic.reply` requests answered. */
  replyQueries: number;
  /** `titanic.close` requests answered "200". */
  closes: number;
  /** Malformed TSP requests answered "400". */
  malformed: number;
  /** Internal errors answered "500". */
  internalErrors: number;
  /** Submissions refused with "500" because the backlog was at `maxBacklog` (or a service at `maxPendingPerService`). */
  refused: number;
  /** Replies deleted by the retention limit. */
  expired: number;
  /** Pending requests recovered from the store at `start()`. */
  recovered: number;
  /**
   * Messages from the broker dropped, to the TSP workers or the dispatcher's client, because they
   * had more frames or bytes than the broker itself accepts (256 frames, 16 MiB in all).
   */
  oversize: number;
  /** The dispatcher's counters: requests sent to their services, replies, timeouts, leases. */
  dispatch: DispatcherStats;
}

/**
 * The server's status events (beside `started` and `closed`):
 * - `unhealthy` / `healthy`: the store lost its storage (a full disk, a database that is down;
 *   submissions are answered "500" meanwhile) and got it back;
 * - `disconnected` / `connected`: a worker lost the broker (`silent` for `heartbeatIntervalMs x
 *   liveness`, or the broker said DISCONNECT: `disconnect`), and every worker has heard from the
 *   broker again (`peer` is the broker's endpoint; `session` counts the link's recoveries, 1 at
 *   start);
 * - `saturated` / `drained`: submissions started to be refused at `maxBacklog` (`queued` requests
 *   stored and unanswered, `limit` the bound), and are accepted again.
 */
export type TitanicServerStatus =
  UnhealthyEvent | HealthyEvent | ConnectedEvent | DisconnectedEvent | SaturatedEvent | DrainedEvent;
