/**
 * CloneServer: a single 12/CHP server. Snapshot ROUTER, update PUB and collector SUB (model five's
 * collector, as a SUB as in model six so clients can PUB their KVSETs to a pair).
 *
 * ```
 *  client DEALER --ICANHAZ?--> ROUTER (P)   --KVSYNC*, KTHXBAI--> client DEALER
 *  client PUB    --KVSET-----> SUB    (P+2) --sequence, store-->  PUB (P+1) --KVPUB, HUGZ--> client SUB
 * ```
 */
import type { Logger, Message } from '@zpatterns/core';
import { Channel, componentLogger, hex, ProtocolError, systemClock, toError } from '@zpatterns/core';
import type { Clock, TimerHandle } from '@zpatterns/core';
import * as zmq from 'zeromq';
import { decodeIcanhaz, decodeKvMsg, encodeHugz, encodeKthxbai, encodeKvMsg } from './kvmsg.js';
import { KvStore } from './store.js';

export interface CloneServerOptions {
  /** Snapshot ROUTER endpoint. @default `tcp://127.0.0.1:*` */
  snapshotEndpoint?: string;
  /** Update PUB endpoint. @default `tcp://127.0.0.1:*` */
  publisherEndpoint?: string;
  /** Collector SUB endpoint. @default `tcp://127.0.0.1:*` */
  collectorEndpoint?: string;
  /** HUGZ interval. @default 1000 */
  hugzIntervalMs?: number;
  /** TTL flush interval. @default 1000 */
  flushIntervalMs?: number;
  /** Socket linger. @default 0 */
  lingerMs?: number;
  clock?: Clock;
  logger?: Logger;
}

export const cloneServerDefaults = {
  snapshotEndpoint: 'tcp://127.0.0.1:*',
  publisherEndpoint: 'tcp://127.0.0.1:*',
  collectorEndpoint: 'tcp://127.0.0.1:*',
  hugzIntervalMs: 1000,
  flushIntervalMs: 1000,
  lingerMs: 0,
} as const;

/** The three endpoints of the book's port layout: P, P+1, P+2 on `host`. */
export function portEndpoints(
  port: number,
  host = '127.0.0.1',
): Pick<Required<CloneServerOptions>, 'snapshotEndpoint' | 'publisherEndpoint' | 'collectorEndpoint'> {
  return {
    snapshotEndpoint: `tcp://${host}:${port}`,
    publisherEndpoint: `tcp://${host}:${port + 1}`,
    collectorEndpoint: `tcp://${host}:${port + 2}`,
  };
}

export interface CloneServerStats {
  updates: number;
  snapshots: number;
  expired: number;
  badMessages: number;
}

export class CloneServer implements AsyncDisposable {
  readonly #o: Required<Omit<CloneServerOptions, 'clock' | 'logger'>>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #store = new KvStore();
  readonly #snapshot: Channel<zmq.Router>;
  readonly #publisher: Channel<zmq.Publisher>;
  readonly #collector: Channel<zmq.Subscriber>;
  readonly #timers: TimerHandle[] = [];
  #closing: Promise<void> | undefined;
  readonly stats: CloneServerStats = { updates: 0, snapshots: 0, expired: 0, badMessages: 0 };
  readonly endpoints = { snapshot: '', publisher: '', collector: '' };

  constructor(options: CloneServerOptions = {}) {
    this.#o = { ...cloneServerDefaults, ...stripUndefined(options) };
    this.#clock = options.clock ?? systemClock;
    this.#log = componentLogger(options.logger, { component: 'clone-server' });
    const linger = this.#o.lingerMs;
    this.#snapshot = new Channel(new zmq.Router({ linger, mandatory: true, sendTimeout: 0 }), {
      name: 'snapshot',
      logger: this.#log,
    });
    this.#publisher = new Channel(new zmq.Publisher({ linger }), { name: 'publisher', logger: this.#log });
    const collector = new zmq.Subscriber({ linger });
    collector.subscribe();
    this.#collector = new Channel(collector, { name: 'collector', logger: this.#log });
  }

  get sequence(): bigint {
    return this.#store.sequence;
  }

  get size(): number {
    return this.#store.size;
  }

  /** Bind the three sockets and start serving. */
  async start(): Promise<void> {
    await this.#snapshot.socket.bind(this.#o.snapshotEndpoint);
    await this.#publisher.socket.bind(this.#o.publisherEndpoint);
    await this.#collector.socket.bind(this.#o.collectorEndpoint);
    this.endpoints.snapshot = this.#snapshot.socket.lastEndpoint ?? this.#o.snapshotEndpoint;
    this.endpoints.publisher = this.#publisher.socket.lastEndpoint ?? this.#o.publisherEndpoint;
    this.endpoints.collector = this.#collector.socket.lastEndpoint ?? this.#o.collectorEndpoint;
    void this.#snapshot.start((m) => this.#onSnapshotRequest(m));
    void this.#collector.start((m) => this.#onCollector(m));
    this.#every(this.#o.hugzIntervalMs, () => this.#publisher.post(encodeHugz(this.#store.sequence)));
    this.#every(this.#o.flushIntervalMs, () => this.#flush());
    this.#log.info({ endpoints: this.endpoints }, 'clone server started');
  }

  #every(ms: number, fn: () => void): void {
    const tick = (): void => {
      if (this.#closing !== undefined) return;
      fn();
      this.#timers.push(this.#clock.setTimeout(tick, ms));
    };
    this.#timers.push(this.#clock.setTimeout(tick, ms));
  }

  #onSnapshotRequest(message: Message): void {
    const [identity, ...rest] = message;
    if (identity === undefined) return;
    let subtree: string;
    try {
      subtree = decodeIcanhaz(rest);
    } catch (err) {
      this.#bad(err, 'snapshot', identity);
      return;
    }
    this.stats.snapshots += 1;
    const now = this.#clock.now();
    for (const msg of this.#store.snapshot(subtree, now)) this.#snapshot.post([identity, ...encodeKvMsg(msg)]);
    this.#snapshot.post([identity, ...encodeKthxbai(this.#store.sequence, subtree)]);
  }

  #onCollector(message: Message): void {
    let update;
    try {
      update = decodeKvMsg(message);
    } catch (err) {
      this.#bad(err, 'collector');
      return;
    }
    this.stats.updates += 1;
    this.#publisher.post(encodeKvMsg(this.#store.apply(update, this.#clock.now())));
  }

  #flush(): void {
    for (const msg of this.#store.expire(this.#clock.now())) {
      this.stats.expired += 1;
      this.#publisher.post(encodeKvMsg(msg));
    }
  }

  #bad(err: unknown, socket: string, peer?: Buffer): void {
    this.stats.badMessages += 1;
    const e = toError(err);
    this.#log.warn(
      {
        socket,
        peer: peer === undefined ? undefined : hex(peer),
        reason: e instanceof ProtocolError ? e.message : String(e),
      },
      'bad message dropped',
    );
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const t of this.#timers) this.#clock.clearTimeout(t);
      await Promise.all([this.#snapshot.close(), this.#publisher.close(), this.#collector.close()]);
      this.#log.info('clone server closed');
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
