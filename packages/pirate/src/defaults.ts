/**
 * The book's timings and our default endpoints, shared by the Pirate classes' `*Defaults` objects
 * and the `ppqueue` daemon's flags.
 */

/** The book's heartbeat interval, in ms (ppqueue/ppworker `HEARTBEAT_INTERVAL`). */
export const PPP_HEARTBEAT_INTERVAL_MS = 1000;
/** Silent heartbeat intervals after which a Paranoid Pirate peer is dead (the book's 3). */
export const PPP_HEARTBEAT_LIVENESS = 3;
/** ppworker reconnect backoff: 1 s doubling to 32 s. */
export const PPP_RECONNECT_INITIAL_MS = 1000;
/** Cap of the Paranoid Pirate worker's reconnect backoff, in ms (the book's 32 s). */
export const PPP_RECONNECT_MAX_MS = 32_000;
/** lpclient's `REQUEST_TIMEOUT`: how long the Lazy Pirate client waits for each attempt's reply, in ms. */
export const LAZY_PIRATE_ATTEMPT_TIMEOUT_MS = 2500;
/**
 * The Lazy Pirate client's default `retries`: resends after the first send. lpclient's
 * `REQUEST_RETRIES` 3 counts every send, so it is 2 here: the same three sends.
 */
export const LAZY_PIRATE_RETRIES = 2;
/** Where the Pirate queues bind for clients by default, on loopback (the book's spqueue/ppqueue: 5555). */
export const DEFAULT_FRONTEND = 'tcp://127.0.0.1:5560';
/** Where the Pirate queues bind for workers by default, on loopback (the book's spqueue/ppqueue: 5556). */
export const DEFAULT_BACKEND = 'tcp://127.0.0.1:5561';
