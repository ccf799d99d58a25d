/**
 * The one way every client moves through a list of servers: a current server, failover to the
 * next in order (wrapping), and a choice among the servers a caller deems usable, by priority or
 * round-robin. No sockets and no time here; liveness is the caller's (see `PeerLiveness`).
 *
 * ```
 *   servers: [ a, b, c ]     failover(): a -> b -> c -> a ...
 *                            pick(usable): priority    = first usable in list order
 *                                          round-robin = first usable after the last pick
 * ```
 */
import { InvalidArgumentError } from './errors.js';

/** How `pick()` chooses: list order every time, or starting after the previous pick. */
export type RotationStrategy = 'priority' | 'round-robin';

/** Options of `new ServerRotation(servers, options)`. */
export interface ServerRotationOptions {
  /** How `pick()` chooses among usable servers. @default 'priority' */
  strategy?: RotationStrategy | undefined;
}

/**
 * A fixed list of servers with a current one. Throws `InvalidArgumentError` for an empty list.
 *
 * @typeParam T - how a server is named (an endpoint string, an address object)
 */
export class ServerRotation<T> {
  /** The servers, in priority order. */
  readonly servers: readonly T[];
  readonly #strategy: RotationStrategy;
  #index = 0;
  /** The previous pick, where round-robin continues from. */
  #picked = -1;
  #failovers = 0;

  constructor(servers: readonly T[], options: ServerRotationOptions = {}) {
    if (servers.length === 0) throw new InvalidArgumentError('at least one server is needed');
    this.servers = [...servers];
    this.#strategy = options.strategy ?? 'priority';
  }

  /** The server in use. */
  get current(): T {
    return this.servers[this.#index] as T;
  }

  /** The index of the server in use. */
  get index(): number {
    return this.#index;
  }

  /** How many times `failover()` moved on. */
  get failovers(): number {
    return this.#failovers;
  }

  /** The current server is given up on: move to the next one in order (wrapping), and return it. */
  failover(): T {
    this.#index = (this.#index + 1) % this.servers.length;
    this.#failovers += 1;
    return this.current;
  }

  /** Make `server` (or the server at an index) the current one, e.g. the one that answered. */
  select(server: T | number): void {
    const index = typeof server === 'number' ? server : this.servers.indexOf(server);
    if (index < 0 || index >= this.servers.length) throw new InvalidArgumentError('select: unknown server');
    this.#index = index;
  }

  /**
   * The server for one attempt among those `usable` says yes to: by priority, the first in list
   * order; round-robin, the first after the previous pick. Servers in `avoid` (already tried) are
   * taken only when no other is usable. The pick becomes current. `undefined` when none is usable.
   */
  pick(usable: (server: T) => boolean, avoid?: ReadonlySet<T>): T | undefined {
    const n = this.servers.length;
    const start = this.#strategy === 'round-robin' ? this.#picked + 1 : 0;
    let fallback: number | undefined;
    for (let i = 0; i < n; i++) {
      const index = (start + i) % n;
      const server = this.servers[index] as T;
      if (!usable(server)) continue;
      if (avoid === undefined || !avoid.has(server)) {
        this.#index = this.#picked = index;
        return server;
      }
      fallback ??= index;
    }
    if (fallback === undefined) return undefined;
    this.#index = this.#picked = fallback;
    return this.current;
  }
}
