/**
 * The client side of a Binary Star pair (the book's bstarcli, and its list of client
 * obligations): Lazy Pirate over the ordered list [primary, backup]. A request that gets no reply
 * within `timeoutMs` is resent to the other server after `settleDelayMs`, long enough for a
 * passive backup to see its peer silent and take the resent request as the vote that makes it
 * active. The pair's passive server drops requests without a reply, so a timeout is the only
 * signal; hence the rotation.
 *
 * This is `LazyPirateClient` from `@zpatterns/pirate` with the Binary Star timings, not a copy of
 * it: any REQ-compatible pair (bstarsrv, a Majordomo pair through MDP clients, ...) can use it.
 */
import { LazyPirateClient, type LazyPirateClientOptions } from '@zpatterns/pirate';
import { BSTAR_HEARTBEAT_MS, BSTAR_PEER_EXPIRY_HEARTBEATS } from './protocol.js';

/**
 * Options of `createBinaryStarClient()`: those of `LazyPirateClient`, with
 * `binaryStarClientDefaults` in place of its defaults.
 */
export type BinaryStarClientOptions = LazyPirateClientOptions;

/**
 * bstarcli's timings: 1 s per attempt (`timeoutMs`), 2 s settle before failing over
 * (`settleDelayMs`, two heartbeats), and 5 resends after the first send (`retries`, so at most 6
 * sends, three to each server).
 */
export const binaryStarClientDefaults = {
  timeoutMs: 1000,
  settleDelayMs: BSTAR_HEARTBEAT_MS * BSTAR_PEER_EXPIRY_HEARTBEATS,
  retries: 5,
} as const satisfies BinaryStarClientOptions;

/**
 * A Lazy Pirate client for a Binary Star pair: `servers` in priority order (primary first).
 * Set `settleDelayMs` to at least 2 x the pair's `heartbeatMs` when you change that.
 */
export function createBinaryStarClient(
  servers: readonly [primary: string, backup: string] | readonly string[],
  options: BinaryStarClientOptions = {},
): LazyPirateClient {
  return new LazyPirateClient(servers, { ...binaryStarClientDefaults, ...options });
}
