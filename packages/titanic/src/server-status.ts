/**
 * What a `TitanicServer` reports: its counters (`server.stats`) and its status events
 * (`server.status()`).
 */
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
 * - `store-unhealthy` / `store-healthy`: the store lost its storage (a full disk, a database that
 *   is down; submissions are answered "500" meanwhile) and got it back;
 * - `disconnected` / `connected`: a worker lost the broker (silent for `heartbeatIntervalMs x
 *   liveness`, or the broker said DISCONNECT), and every worker has registered again (READY sent
 *   on a fresh connection; MDP has no acknowledgement, so a broker still down is reported by the
 *   next `disconnected`);
 * - `backlog-full` / `backlog-ok`: submissions started to be refused at `maxBacklog`, and are
 *   accepted again.
 */
export type TitanicServerStatus =
  | {
      readonly type: 'store-unhealthy';
      /** Why the store reports itself unhealthy. */
      readonly error: Error;
    }
  | { readonly type: 'store-healthy' }
  | {
      readonly type: 'disconnected';
      /** The broker endpoint. */
      readonly server: string;
      /** `broker-dead` (silent too long) or `disconnect` (the broker sent DISCONNECT). */
      readonly reason: 'broker-dead' | 'disconnect';
      /** With `broker-dead`: how long the broker had been silent. */
      readonly silentMs?: number;
    }
  | {
      readonly type: 'connected';
      /** The broker endpoint. */
      readonly server: string;
    }
  | {
      readonly type: 'backlog-full';
      /** Requests stored and unanswered when the refusals began. */
      readonly backlog: number;
      /** The bound (`maxBacklog`). */
      readonly maxBacklog: number;
    }
  | {
      readonly type: 'backlog-ok';
      /** Requests stored and unanswered when submissions were accepted again. */
      readonly backlog: number;
    };
