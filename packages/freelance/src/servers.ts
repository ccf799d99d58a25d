/**
 * The client's table of servers: liveness from PING/PONG and replies, and the choice of server
 * for a request. No sockets here; time comes from the caller, so the rules are unit-tested with
 * a manual clock.
 *
 *   connecting --first message--> alive --silent serverTtlMs, or unreachable--> dead
 *        ^                          ^                                            |
 *        |                          +----------------any message-----------------+
 */
import { frame } from '@zpatterns/core';

/** How a request picks its server. */
export type FreelanceStrategy = 'priority' | 'round-robin' | 'all';

/**
 * What the client knows of one server: `connecting` until its first PONG or reply, `alive` while
 * it answers, `dead` after `serverTtlMs` of silence (until it is heard from again).
 */
export type ServerState = 'connecting' | 'alive' | 'dead';

export interface ServerEntry {
  readonly endpoint: string;
  /** The routing id to address it with: its endpoint as bytes. */
  readonly id: Buffer;
  state: ServerState;
  /** When anything was last received from it (clock ms), or -Infinity. */
  lastSeen: number;
  /** When to send the next PING. */
  pingAt: number;
  /** Requests sent to it / replies received from it. */
  sent: number;
  replies: number;
  /** Ids of requests whose current attempt is on this server. */
  readonly inFlight: Set<number>;
}

export interface ServerTableTimings {
  pingIntervalMs: number;
  serverTtlMs: number;
  /** Ping period while a server is not (or no longer) connected. */
  connectPingMs: number;
}

export class ServerTable {
  readonly #byKey = new Map<string, ServerEntry>();
  readonly #order: ServerEntry[] = [];
  readonly #timings: ServerTableTimings;
  #cursor = -1;

  constructor(timings: ServerTableTimings) {
    this.#timings = timings;
  }

  get entries(): readonly ServerEntry[] {
    return this.#order;
  }

  /** Add a server (no-op when known); its first PING is due at once. */
  add(endpoint: string, now: number): ServerEntry {
    const known = this.#byKey.get(endpoint);
    if (known !== undefined) return known;
    const entry: ServerEntry = {
      endpoint,
      id: frame(endpoint),
      state: 'connecting',
      lastSeen: Number.NEGATIVE_INFINITY,
      pingAt: now,
      sent: 0,
      replies: 0,
      inFlight: new Set(),
    };
    this.#byKey.set(endpoint, entry);
    this.#order.push(entry);
    return entry;
  }

  /** The server whose routing id is `id`. */
  lookup(id: Buffer): ServerEntry | undefined {
    return this.#byKey.get(id.toString('utf8'));
  }

  /** A message came from `entry`. Returns true when that brought it (back) to life. */
  seen(entry: ServerEntry, now: number): boolean {
    entry.lastSeen = now;
    entry.pingAt = now + this.#timings.pingIntervalMs;
    if (entry.state === 'alive') return false;
    entry.state = 'alive';
    return true;
  }

  /** `entry` is gone (unreachable, or silent too long). Returns true when it was alive. */
  lost(entry: ServerEntry, now: number): boolean {
    entry.pingAt = Math.min(entry.pingAt, now + this.#timings.connectPingMs);
    if (entry.state !== 'alive') return false;
    entry.state = 'dead';
    return true;
  }

  /** Servers to ping now (their next ping is rescheduled) and live servers silent past the TTL. */
  due(now: number): { ping: ServerEntry[]; expired: ServerEntry[] } {
    const ping: ServerEntry[] = [];
    const expired: ServerEntry[] = [];
    for (const entry of this.#order) {
      if (entry.state === 'alive' && now - entry.lastSeen >= this.#timings.serverTtlMs) expired.push(entry);
      if (now >= entry.pingAt) {
        ping.push(entry);
        entry.pingAt = now + (entry.state === 'alive' ? this.#timings.pingIntervalMs : this.#timings.connectPingMs);
      }
    }
    return { ping, expired };
  }

  /** Live servers in priority order. */
  alive(): ServerEntry[] {
    return this.#order.filter((e) => e.state === 'alive');
  }

  /**
   * The server for one attempt: the first live server in priority order (or, round-robin, after
   * the last one picked), preferring servers not in `tried`. `undefined` when none is alive.
   */
  pick(strategy: Exclude<FreelanceStrategy, 'all'>, tried: ReadonlySet<string>): ServerEntry | undefined {
    const n = this.#order.length;
    const start = strategy === 'round-robin' ? this.#cursor + 1 : 0;
    let fallback: ServerEntry | undefined;
    for (let i = 0; i < n; i++) {
      const index = (start + i) % n;
      const entry = this.#order[index] as ServerEntry;
      if (entry.state !== 'alive') continue;
      if (!tried.has(entry.endpoint)) {
        if (strategy === 'round-robin') this.#cursor = index;
        return entry;
      }
      fallback ??= entry;
    }
    if (fallback !== undefined && strategy === 'round-robin') this.#cursor = this.#order.indexOf(fallback);
    return fallback;
  }
}
