/**
 * CloneClient (single server, first cut): snapshot then updates for several subtrees, drops
 * updates at or below the held sequence, detects a sequence gap and resyncs with a new snapshot.
 * Bad messages are counted, never thrown. Failover to a second server is not implemented yet.
 */
import type { Logger, Message } from '@zpatterns/core';
import { Channel, componentLogger, frameEquals } from '@zpatterns/core';
import * as zmq from 'zeromq';
import type { KvMsg } from './kvmsg.js';
import { decodeKvMsg, encodeIcanhaz, encodeKvMsg, HUGZ, inSubtree, KTHXBAI, newUuid } from './kvmsg.js';

export interface CloneClientOptions {
  /** Snapshot ROUTER endpoint of the server (port P). */
  snapshotEndpoint: string;
  /** Update PUB endpoint (P+1). */
  publisherEndpoint: string;
  /** Collector SUB endpoint (P+2). */
  collectorEndpoint: string;
  /** Subtrees to follow. @default [''] (everything) */
  subtrees?: readonly string[];
  /** Socket linger. @default 0 */
  lingerMs?: number;
  logger?: Logger;
}

export interface CloneClientStats {
  updates: number;
  stale: number;
  gaps: number;
  resyncs: number;
  badMessages: number;
}

/** A change seen by `watch()`: `value` undefined means deleted. */
export interface CloneChange {
  key: string;
  value: Buffer | undefined;
  sequence: bigint;
}

export class CloneClient implements AsyncDisposable {
  readonly #o: Required<Omit<CloneClientOptions, 'logger'>>;
  readonly #log: Logger;
  readonly #map = new Map<string, KvMsg>();
  readonly #subscriber: Channel<zmq.Subscriber>;
  readonly #publisher: Channel<zmq.Publisher>;
  readonly #watchers = new Set<(c: CloneChange | undefined) => void>();
  #buffered: Message[] = [];
  #sequence = -1n;
  #syncing: Promise<void> | undefined;
  #closed = false;
  readonly stats: CloneClientStats = { updates: 0, stale: 0, gaps: 0, resyncs: 0, badMessages: 0 };

  constructor(options: CloneClientOptions) {
    this.#o = { subtrees: [''], lingerMs: 0, ...options };
    this.#log = componentLogger(options.logger, { component: 'clone-client' });
    const sub = new zmq.Subscriber({ linger: this.#o.lingerMs });
    for (const s of this.#o.subtrees) sub.subscribe(s);
    if (!this.#o.subtrees.includes('')) sub.subscribe(HUGZ); // hazard H-K8
    this.#subscriber = new Channel(sub, { name: 'subscriber', logger: this.#log });
    this.#publisher = new Channel(new zmq.Publisher({ linger: this.#o.lingerMs }), {
      name: 'publisher',
      logger: this.#log,
    });
  }

  /** The highest sequence applied. */
  get sequence(): bigint {
    return this.#sequence;
  }

  /** Connect, take the snapshot, then follow updates. */
  async start(): Promise<void> {
    // A PUB drops what it sends before its connection is up (the slow joiner): wait for it, so a
    // set() right after start() reaches the server.
    const connected = new Promise<void>((resolve) => this.#publisher.socket.events.on('connect', () => resolve()));
    this.#subscriber.socket.connect(this.#o.publisherEndpoint);
    this.#publisher.socket.connect(this.#o.collectorEndpoint);
    await Promise.all([this.#resync(), connected]);
    void this.#subscriber.start((m) => this.#onUpdate(m));
  }

  get(key: string): Buffer | undefined {
    return this.#map.get(key)?.body;
  }

  entries(): [string, Buffer][] {
    return [...this.#map].map(([k, v]) => [k, v.body]);
  }

  /** Publish a KVSET; `ttlMs` is sent as whole seconds (rounded up). */
  set(key: string, value: Buffer | string, options: { ttlMs?: number } = {}): void {
    const props = new Map<string, string>();
    if (options.ttlMs !== undefined && options.ttlMs > 0) props.set('ttl', String(Math.ceil(options.ttlMs / 1000)));
    this.#publisher.post(
      encodeKvMsg({ key, sequence: 0n, uuid: newUuid(), properties: props, body: Buffer.from(value) }),
    );
  }

  delete(key: string): void {
    this.set(key, Buffer.alloc(0));
  }

  /** Changes under `prefix`, as they are applied (snapshots after a resync are not replayed). */
  async *watch(prefix = ''): AsyncGenerator<CloneChange> {
    const queue: CloneChange[] = [];
    let wake: (() => void) | undefined;
    const listener = (c: CloneChange | undefined): void => {
      if (c !== undefined && inSubtree(c.key, prefix)) queue.push(c);
      wake?.();
    };
    this.#watchers.add(listener);
    try {
      while (!this.#closed) {
        const next = queue.shift();
        if (next !== undefined) yield next;
        else await new Promise<void>((r) => (wake = r));
      }
    } finally {
      this.#watchers.delete(listener);
    }
  }

  #resync(): Promise<void> {
    this.#syncing ??= this.#snapshotAll().finally(() => {
      this.#syncing = undefined;
      const buffered = this.#buffered;
      this.#buffered = [];
      for (const m of buffered) this.#onUpdate(m);
    });
    return this.#syncing;
  }

  async #snapshotAll(): Promise<void> {
    const dealer = new zmq.Dealer({ linger: 0 });
    dealer.connect(this.#o.snapshotEndpoint);
    const fresh = new Map<string, KvMsg>();
    let sequence = 0n;
    try {
      for (const subtree of this.#o.subtrees) {
        await dealer.send(encodeIcanhaz(subtree));
        for (;;) {
          const frames = (await dealer.receive()) as Message;
          let msg: KvMsg;
          try {
            msg = decodeKvMsg(frames);
          } catch {
            this.stats.badMessages += 1;
            continue;
          }
          if (frameEquals(Buffer.from(msg.key), KTHXBAI)) {
            if (msg.sequence > sequence) sequence = msg.sequence;
            break;
          }
          if (msg.body.length > 0) fresh.set(msg.key, msg);
        }
      }
    } finally {
      dealer.close();
    }
    this.#map.clear();
    for (const [k, v] of fresh) this.#map.set(k, v);
    this.#sequence = sequence;
    this.#log.debug({ sequence, size: fresh.size }, 'snapshot applied');
  }

  #onUpdate(message: Message): void {
    if (this.#syncing !== undefined) {
      // held until the snapshot is in: older ones are then stale, newer ones apply
      this.#buffered.push(message);
      return;
    }
    let msg: KvMsg;
    try {
      msg = decodeKvMsg(message);
    } catch {
      this.stats.badMessages += 1;
      return;
    }
    if (msg.key === 'HUGZ') {
      if (msg.sequence > this.#sequence && this.#o.subtrees.includes('')) this.#gap(msg.sequence);
      return;
    }
    if (msg.sequence <= this.#sequence) {
      this.stats.stale += 1;
      return;
    }
    // Sequences are global; a client following only subtrees cannot see every number, so a jump is a
    // gap only when it follows everything.
    if (this.#o.subtrees.includes('') && msg.sequence !== this.#sequence + 1n) {
      this.#gap(msg.sequence);
      return;
    }
    this.#sequence = msg.sequence;
    this.stats.updates += 1;
    if (msg.body.length === 0) this.#map.delete(msg.key);
    else this.#map.set(msg.key, msg);
    const change: CloneChange = {
      key: msg.key,
      value: msg.body.length === 0 ? undefined : msg.body,
      sequence: msg.sequence,
    };
    for (const w of this.#watchers) w(change);
  }

  #gap(seen: bigint): void {
    this.stats.gaps += 1;
    this.stats.resyncs += 1;
    this.#log.warn({ held: this.#sequence, seen }, 'sequence gap, resyncing');
    void this.#resync().catch((err: unknown) => this.#log.warn({ err }, 'resync failed'));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#watchers) w(undefined);
    await Promise.all([this.#subscriber.close(), this.#publisher.close()]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
