/**
 * The three sockets a Clone server binds: the snapshot ROUTER (port P), the update PUB (P+1) and
 * the collector SUB (P+2), with CURVE when asked, and a count of the publisher's subscribers.
 */
import type { Logger, SecurityOptions } from '@zpatterns/core';
import type { ServerSecurity } from '@zpatterns/core/internal';
import { applyBindSecurity, Channel } from '@zpatterns/core/internal';
import * as zmq from 'zeromq';
import type { CloneServerAddress } from './address.js';
import type { ResolvedServerOptions } from './server-options.js';

/** Matches the clients' write high-water mark, so a burst is queued, not dropped, on both ends. */
const COLLECTOR_HIGH_WATER_MARK = 100_000;
/**
 * Updates the publisher may hold for one subscriber before it drops that subscriber's updates
 * (which makes it resync). libzmq's default, 1,000, is 20 ms of a 50,000 updates/s burst: a
 * subscriber that stalls that long (a GC pause, a loaded machine) lost updates, and its kernel
 * buffers held only a few thousand more. As deep as the collector, so a burst the collector has
 * queued is published whole.
 */
const PUBLISHER_HIGH_WATER_MARK = 100_000;

export class ServerSockets {
  readonly snapshot: Channel<zmq.Router>;
  readonly publisher: Channel<zmq.Publisher>;
  readonly collector: Channel<zmq.Subscriber>;
  #endpoints: Readonly<CloneServerAddress> | undefined;
  readonly #guards: ServerSecurity[] = [];
  #publisherGuard: ServerSecurity | undefined;
  #subscribers = 0;

  /** Creates the sockets, unbound: `close()` closes them whatever fails next. */
  constructor(o: ResolvedServerOptions, log: Logger) {
    const linger = o.lingerMs;
    // mandatory: a send to a vanished client fails at once (EHOSTUNREACH); sendTimeout 0: a send at
    // a client's high-water mark fails at once (EAGAIN) instead of holding the socket, and the
    // snapshot waits for that client on its own (snapshots.ts). Every send is handed to libzmq
    // inside the call (directSend), without zeromq.js's readiness check or the channel's queue.
    const router = new zmq.Router({ linger, mandatory: true, sendTimeout: 0 });
    // A PUB never waits (past its high-water mark it drops): sendTimeout 0 changes nothing but
    // lets the channel hand each update over inside `post()`.
    const publisher = new zmq.Publisher({ linger, sendHighWaterMark: PUBLISHER_HIGH_WATER_MARK, sendTimeout: 0 });
    const collector = new zmq.Subscriber({ linger, receiveHighWaterMark: COLLECTOR_HIGH_WATER_MARK });
    collector.subscribe();
    this.snapshot = new Channel(router, { name: 'snapshot', logger: log, directSend: true });
    this.publisher = new Channel(publisher, { name: 'publisher', logger: log, directSend: true });
    this.collector = new Channel(collector, { name: 'collector', logger: log });
  }

  /** As bound (a `*` port resolved); undefined until `bind()` has resolved. */
  get endpoints(): Readonly<CloneServerAddress> | undefined {
    return this.#endpoints;
  }

  /** Connections to the update publisher now: clients (and a pair's peer) that follow the stream. */
  get subscribers(): number {
    return this.#publisherGuard?.peers ?? this.#subscribers;
  }

  /** Apply `security` and the frame limit, bind the three endpoints and resolve `endpoints`. */
  async bind(o: ResolvedServerOptions, security: SecurityOptions | undefined): Promise<void> {
    const router = this.snapshot.socket;
    const publisher = this.publisher.socket;
    const collector = this.collector.socket;
    for (const socket of [router, publisher, collector]) {
      const guard = applyBindSecurity(socket, security, o.logger, o.maxMessageBytes);
      if (guard !== undefined) this.#guards.push(guard);
      if (socket === publisher) this.#publisherGuard = guard;
    }
    if (this.#publisherGuard === undefined) void this.#countSubscribers(publisher);
    await Promise.all(this.#guards.map((g) => g.ready()));
    await router.bind(o.snapshotBind);
    await publisher.bind(o.publisherBind);
    await collector.bind(o.collectorBind);
    this.#endpoints = {
      snapshot: router.lastEndpoint ?? o.snapshotBind,
      publisher: publisher.lastEndpoint ?? o.publisherBind,
      collector: collector.lastEndpoint ?? o.collectorBind,
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.snapshot.close(), this.publisher.close(), this.collector.close()]);
    await Promise.all(this.#guards.map((g) => g.release()));
  }

  /** Counts the publisher's connections from its socket events (CURVE's guard counts them otherwise). */
  async #countSubscribers(socket: zmq.Publisher): Promise<void> {
    try {
      for await (const event of socket.events) {
        if (event.type === 'accept') this.#subscribers++;
        else if (event.type === 'disconnect') this.#subscribers = Math.max(0, this.#subscribers - 1);
      }
    } catch {
      // the socket closed
    }
  }
}
