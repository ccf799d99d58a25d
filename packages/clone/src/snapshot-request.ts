/**
 * One snapshot request of a replica: ICANHAZ? per subtree on a fresh DEALER, then KVSYNC* until
 * KTHXBAI, the lowest KTHXBAI sequence being the snapshot's point.
 *
 * ```
 *  replica  DEALER --ICANHAZ? subtree--> server ROUTER (P)
 *                  <--KVSYNC ... KTHXBAI (sequence)--        once per subtree
 * ```
 *
 * The request only moves bytes; the follower owns the time. It calls `timeout()` when the server
 * stops answering, `close()` when the follower closes.
 */
import type { Message, SecurityOptions } from '@zpatterns/core';
import { toError } from '@zpatterns/core';
import { applyConnectSecurity, applyPeerLimits } from '@zpatterns/core/internal';
import * as zmq from 'zeromq';
import type { KvMsg } from './kvmsg.js';
import { decodeKvMsg, encodeIcanhaz } from './kvmsg.js';
import { OVER_LIMIT, watchPeerLink } from './peer-link.js';

/** How a request ended: the snapshot, no complete answer (`timeout`), or the follower closed. */
export type SnapshotResult = { entries: KvMsg[]; sequence: bigint } | 'timeout' | 'closed';

/** What a request needs besides the endpoint and the subtrees. */
export interface SnapshotRequestOptions {
  /** CURVE toward the server. */
  security?: SecurityOptions | undefined;
  /** Apply the process's frame limit to the DEALER (see `FollowerOptions.limitFrames`). */
  limitFrames?: boolean | undefined;
  /** The frame limit, in bytes. @default `DEFAULT_MAX_MESSAGE_BYTES` (16 MiB) */
  maxMessageBytes?: number | undefined;
  /** Every reply from the server (a sign of life), even a malformed one. */
  onReply(): void;
  /** A reply dropped: not a kvmsg, or the connection closed by libzmq over a frame past the limit. */
  onBadMessage(reason: string): void;
}

/** A snapshot request in flight; `result` settles once, never rejects for a timeout or a close. */
export class SnapshotRequest {
  /** The snapshot, or why there is none; rejects only on an unexpected socket error. */
  readonly result: Promise<SnapshotResult>;
  readonly #dealer: zmq.Dealer;
  readonly #options: SnapshotRequestOptions;
  #ended: 'timeout' | 'closed' | undefined;

  /** Send the first ICANHAZ? to `endpoint` now; `subtrees` are asked one after the other. */
  constructor(endpoint: string, subtrees: readonly string[], options: SnapshotRequestOptions) {
    this.#options = options;
    const dealer = new zmq.Dealer({ linger: 0 });
    applyConnectSecurity(dealer, options.security);
    if (options.limitFrames === true) {
      applyPeerLimits(dealer, options.maxMessageBytes);
      // the rest of this snapshot went with the connection: start over
      watchPeerLink(
        dealer,
        endpoint,
        () => {
          options.onBadMessage(OVER_LIMIT);
          this.timeout();
        },
        false,
      );
    }
    this.#dealer = dealer;
    dealer.connect(endpoint);
    this.result = this.#run(subtrees).finally(() => dealer.close());
  }

  /** Give up on the server: `result` becomes `timeout` (unless the request is closed). */
  timeout(): void {
    this.#ended ??= 'timeout';
    this.#dealer.close();
  }

  /** Stop: `result` becomes `closed`. */
  close(): void {
    this.#ended = 'closed';
    this.#dealer.close();
  }

  async #run(subtrees: readonly string[]): Promise<SnapshotResult> {
    const entries = new Map<string, KvMsg>();
    // Each subtree's KTHXBAI carries the server's sequence at that moment; the stream is applied
    // from the lowest of them, so nothing published between two subtree snapshots is skipped.
    let sequence: bigint | undefined;
    try {
      for (const subtree of subtrees) {
        await this.#dealer.send(encodeIcanhaz(subtree));
        for (;;) {
          const frames = await this.#receive();
          if (frames === undefined) return this.#ended === 'timeout' ? 'timeout' : 'closed';
          this.#options.onReply();
          let msg: KvMsg;
          try {
            msg = decodeKvMsg(frames);
          } catch (err) {
            this.#options.onBadMessage(toError(err).message);
            continue;
          }
          if (msg.key === 'KTHXBAI') {
            if (sequence === undefined || msg.sequence < sequence) sequence = msg.sequence;
            break;
          }
          if (msg.body.length > 0) entries.set(msg.key, msg);
        }
      }
    } catch (err) {
      if (this.#ended !== undefined) return this.#ended;
      throw err;
    }
    return { entries: [...entries.values()], sequence: sequence ?? 0n };
  }

  /** The next reply, or `undefined` once the DEALER is closed. */
  async #receive(): Promise<Message | undefined> {
    try {
      return await this.#dealer.receive();
    } catch (err) {
      if (this.#dealer.closed) return undefined;
      throw err;
    }
  }
}
