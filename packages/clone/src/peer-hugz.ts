/**
 * A pair's watch on its peer's HUGZ: what the peer last showed of its sequence, logged beside a
 * split brain's outcome for the operator (the decision itself is taken on numbers both servers
 * exchange at that moment; see split-brain.ts).
 */
import type { Logger, SecurityOptions } from '@zpatterns/core';
import { ProtocolError } from '@zpatterns/core';
import { applyConnectSecurity, Channel, applyPeerLimits } from '@zpatterns/core/internal';
import * as zmq from 'zeromq';
import { decodeKvMsg, HUGZ } from './kvmsg.js';
import { OVER_LIMIT, watchPeerLink } from './peer-link.js';

export class PeerHugzWatch {
  readonly #channel: Channel<zmq.Subscriber>;
  /** The peer's sequence as its last HUGZ showed it. */
  #sequence: bigint | undefined;

  constructor(security: SecurityOptions | undefined, maxMessageBytes: number, log: Logger) {
    const watch = new zmq.Subscriber({ linger: 0 });
    applyConnectSecurity(watch, security);
    applyPeerLimits(watch, maxMessageBytes);
    watch.subscribe(HUGZ);
    this.#channel = new Channel(watch, { name: 'peer-hugz', logger: log });
  }

  get lastSequence(): bigint | undefined {
    return this.#sequence;
  }

  /**
   * Connect to the peer's HUGZ `endpoint` and listen; a malformed message (or a link libzmq closed
   * over the size limit, reopened) goes to `bad`. Throws if `endpoint` cannot be connected to.
   */
  start(endpoint: string, bad: (err: unknown) => void): void {
    const socket = this.#channel.socket;
    try {
      watchPeerLink(socket, endpoint, () => bad(new ProtocolError(`${OVER_LIMIT}; reconnected`)));
      socket.connect(endpoint);
    } finally {
      void this.#channel.start((m) => {
        try {
          const msg = decodeKvMsg(m);
          if (msg.key === 'HUGZ' && msg.sequence > 0n) this.#sequence = msg.sequence;
        } catch (err) {
          bad(err);
        }
      });
    }
  }

  async close(): Promise<void> {
    await this.#channel.close();
  }
}
