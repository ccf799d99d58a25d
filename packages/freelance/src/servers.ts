/**
 * The client's table of servers: which are alive (core `PeerLiveness`, fed by PONGs, replies and
 * unreachable sends), which one a request goes to (core `ServerRotation`: priority or
 * round-robin), and when each is pinged next. No sockets here; time comes from an injected clock,
 * so the rules are unit-tested with a manual clock.
 *
 *   connecting --first message--> alive --silent peerTtlMs, or unreachable--> dead
 *   (alive is the status event `connected`, dead is `disconnected`)
 *                                   ^                                            |
 *                                   +----------------any message-----------------+
 */
import { type Clock } from '@zpatterns/core';
import { frame, ServerRotation, PeerLiveness } from '@zpatterns/core/internal';

/** How a request picks its server. */
export type FreelanceStrategy = 'priority' | 'round-robin' | 'all';

/**
 * What the client knows of one server: `connecting` until its first PONG or reply, `alive` while
 * it answers, `dead` after `peerTtlMs` of silence or an unreachable send (until it is heard
 * from again).
 */
export type ServerState = 'connecting' | 'alive' | 'dead';

/** One server in the table, with the client's counters for it. */
export interface ServerEntry {
  /** The endpoint the client connects to, which is also the server's routing id. */
  readonly endpoint: string;
  /** The routing id to address it with: its endpoint as bytes. */
  readonly id: Buffer;
  /** When to send the next PING (clock ms). */
  pingAt: number;
  /** Requests sent to it. */
  sent: number;
  /** Replies received from it. */
  replies: number;
  /** Ids of requests whose current attempt is on this server. */
  readonly inFlight: Set<number>;
}

/** Options of `new ServerTable(options)`. */
export interface ServerTableOptions {
  /** Server endpoints, in priority order (duplicates are dropped). */
  servers: readonly string[];
  /** How `pick()` chooses; `all` picks like `priority` (the caller sends to `alive()`). */
  strategy: FreelanceStrategy;
  /** Ping a live server after this long without hearing from it. */
  heartbeatIntervalMs: number;
  /** A live server silent this long is dead. */
  peerTtlMs: number;
  /** Ping period while a server is not (or no longer) alive. */
  connectPingMs: number;
  /** Time source. */
  clock: Clock;
  /** Called when a server comes alive or dies; `silentMs` is how long it had been silent. */
  onChange?: ((entry: ServerEntry, state: 'alive' | 'dead', silentMs: number) => void) | undefined;
}

export class ServerTable {
  /** The servers, in priority order. */
  readonly entries: readonly ServerEntry[];
  readonly #byKey = new Map<string, ServerEntry>();
  readonly #liveness: PeerLiveness<string>;
  readonly #rotation: ServerRotation<string>;
  readonly #options: ServerTableOptions;

  constructor(options: ServerTableOptions) {
    this.#options = options;
    const now = options.clock.now();
    for (const endpoint of options.servers) {
      if (this.#byKey.has(endpoint)) continue;
      this.#byKey.set(endpoint, {
        endpoint,
        id: frame(endpoint),
        pingAt: now,
        sent: 0,
        replies: 0,
        inFlight: new Set(),
      });
    }
    this.entries = [...this.#byKey.values()];
    this.#liveness = new PeerLiveness<string>({
      ttlMs: options.peerTtlMs,
      clock: options.clock,
      onChange: (endpoint, state, silentMs) => {
        const entry = this.#byKey.get(endpoint) as ServerEntry;
        if (state === 'dead') entry.pingAt = Math.min(entry.pingAt, options.clock.now() + options.connectPingMs);
        options.onChange?.(entry, state, silentMs);
      },
    });
    for (const entry of this.entries) this.#liveness.add(entry.endpoint);
    this.#rotation = new ServerRotation<string>(
      this.entries.map((e) => e.endpoint),
      { strategy: options.strategy === 'round-robin' ? 'round-robin' : 'priority' },
    );
  }

  /** The server whose routing id is `id`. */
  lookup(id: Buffer): ServerEntry | undefined {
    return this.#byKey.get(id.toString('utf8'));
  }

  /** What is known of `entry`. */
  state(entry: ServerEntry): ServerState {
    const state = this.#liveness.state(entry.endpoint);
    return state === 'unknown' ? 'connecting' : state;
  }

  /** Whether `entry` is alive. */
  isAlive(entry: ServerEntry): boolean {
    return this.#liveness.isAlive(entry.endpoint);
  }

  /** When anything was last received from `entry` (clock ms), or `-Infinity`. */
  lastSeen(entry: ServerEntry): number {
    return this.#liveness.lastSeen(entry.endpoint);
  }

  /** A message came from `entry`. Returns true when that brought it (back) to life. */
  seen(entry: ServerEntry): boolean {
    entry.pingAt = this.#options.clock.now() + this.#options.heartbeatIntervalMs;
    return this.#liveness.seen(entry.endpoint);
  }

  /**
   * `entry` is unreachable: a live server dies at once (a server not alive yet stays as it is).
   * Returns true when it was alive.
   */
  lost(entry: ServerEntry): boolean {
    if (!this.#liveness.isAlive(entry.endpoint)) return false;
    return this.#liveness.lost(entry.endpoint);
  }

  /** Servers to ping now; their next ping is rescheduled. */
  duePings(): ServerEntry[] {
    const now = this.#options.clock.now();
    const ping: ServerEntry[] = [];
    for (const entry of this.entries) {
      if (now < entry.pingAt) continue;
      ping.push(entry);
      entry.pingAt =
        now +
        (this.#liveness.isAlive(entry.endpoint) ? this.#options.heartbeatIntervalMs : this.#options.connectPingMs);
    }
    return ping;
  }

  /** Live servers in priority order. */
  alive(): ServerEntry[] {
    return this.entries.filter((e) => this.#liveness.isAlive(e.endpoint));
  }

  /**
   * The server for one attempt: the first live server in priority order (or, round-robin, the
   * first after the previous pick), preferring servers whose endpoint is not in `tried`.
   * `undefined` when none is alive.
   */
  pick(tried: ReadonlySet<string> = new Set()): ServerEntry | undefined {
    const endpoint = this.#rotation.pick((e) => this.#liveness.isAlive(e), tried);
    return endpoint === undefined ? undefined : this.#byKey.get(endpoint);
  }

  /** Stop the liveness timer: no more `onChange` calls. Idempotent. */
  stop(): void {
    this.#liveness.stop();
  }
}
