/**
 * The client side of a Binary Star pair (the book's bstarcli, and its list of client
 * obligations): Lazy Pirate over the ordered list [primary, backup]. A request that gets no reply
 * within `attemptTimeoutMs` is resent to the other server after `settleDelayMs`, long enough for
 * a passive backup to see its peer silent and take the resent request as the vote that makes it
 * active. The pair's passive server drops requests without a reply, so a timeout is the only
 * signal; hence the rotation.
 *
 * This is `LazyPirateClient` from `@zpatterns/pirate` with the Binary Star timings, not a copy of
 * it: any REQ-compatible pair (bstarsrv, a Majordomo pair through MDP clients, ...) can use it.
 */
import { definedOnly } from '@zpatterns/core/internal';
import { LazyPirateClient, type LazyPirateClientOptions } from '@zpatterns/pirate';
import { BSTAR_HEARTBEAT_MS, BSTAR_PEER_EXPIRY_HEARTBEATS } from './protocol.js';

/**
 * Options of `new BinaryStarClient(options)`: those of `LazyPirateClient`, with
 * `binaryStarClientDefaults` in place of its defaults. `servers` is `[primary, backup]`.
 */
export type BinaryStarClientOptions = LazyPirateClientOptions;

/**
 * bstarcli's timings: 1 s per attempt (`attemptTimeoutMs`), 2 s settle before failing over
 * (`settleDelayMs`, two heartbeats), and 5 resends after the first send (`retries`, so at most 6
 * sends, three to each server).
 */
export const binaryStarClientDefaults = {
  attemptTimeoutMs: 1000,
  settleDelayMs: BSTAR_HEARTBEAT_MS * BSTAR_PEER_EXPIRY_HEARTBEATS,
  retries: 5,
} as const satisfies Partial<BinaryStarClientOptions>;

/**
 * A Lazy Pirate client for a Binary Star pair: `new BinaryStarClient({ servers: [primary,
 * backup] })`, servers in priority order (primary first), with `binaryStarClientDefaults`.
 * Everything else is `LazyPirateClient`'s: `start()` opens the first REQ socket, `request()`
 * fails over on each timeout, `status()` reports `connected`, `disconnected` and `failover`. Set
 * `settleDelayMs` to at least 2 x the pair's `heartbeatIntervalMs` when you change that.
 */
export class BinaryStarClient extends LazyPirateClient {
  constructor(options: BinaryStarClientOptions) {
    super({ ...binaryStarClientDefaults, ...definedOnly(options), servers: options.servers });
  }
}
