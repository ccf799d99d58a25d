/**
 * The client's socket pool: grows on demand up to `maxSockets`, keeps up to `maxIdleSockets`
 * idle sockets for reuse (most recently used first, so warm connections are reused), and queues
 * callers beyond the limit in FIFO order. `discard()` is for sockets that must never be reused
 * (timed out or aborted).
 */
import { AbortError, ClosedError, type Logger, type SecurityOptions } from '@zpatterns/core';
import { Deque } from '@zpatterns/core/internal';
import { ClientConnection, type ClientStats } from './client-connection.js';
import type { InboundGuard } from './inbound-limits.js';
import type { MdpVersion } from './codec.js';

interface Waiter {
  resolve: (connection: ClientConnection) => void;
  reject: (err: Error) => void;
  cancelled: boolean;
}

export interface PoolOptions {
  endpoint: string;
  version: MdpVersion;
  maxSockets: number;
  maxIdleSockets: number;
  log: Logger;
  stats: ClientStats;
  guard: InboundGuard;
  security: SecurityOptions | undefined;
}

export class ClientPool {
  readonly #o: PoolOptions;
  readonly #idle: ClientConnection[] = [];
  readonly #all = new Set<ClientConnection>();
  readonly #waiters = new Deque<Waiter>();
  readonly #closing = new Set<Promise<void>>();
  #nextId = 1;
  #closed = false;
  #endpoint: string;

  constructor(options: PoolOptions) {
    this.#o = options;
    this.#endpoint = options.endpoint;
  }

  /** Where new sockets connect. */
  get endpoint(): string {
    return this.#endpoint;
  }

  /**
   * Fail over: new sockets connect to `endpoint`; idle sockets to the old one are closed, and busy
   * ones are closed when they come back.
   */
  retarget(endpoint: string): void {
    if (endpoint === this.#endpoint) return;
    this.#endpoint = endpoint;
    for (const connection of this.#idle.splice(0)) this.#drop(connection);
  }

  /** Sockets open (idle or carrying a request). */
  get size(): number {
    return this.#all.size;
  }

  get idle(): number {
    return this.#idle.length;
  }

  /** Callers waiting for a socket. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** An idle socket, if one is ready now (the fast path of `acquire()`, without a promise). */
  takeIdle(): ClientConnection | undefined {
    return this.#closed ? undefined : this.#idle.pop();
  }

  /** A socket with no outstanding request: idle, new, or the next one released. */
  acquire(signal?: AbortSignal): Promise<ClientConnection> {
    if (this.#closed) return Promise.reject(new ClosedError('client'));
    if (signal?.aborted === true) {
      return Promise.reject(new AbortError('request aborted while waiting for a socket', { cause: signal.reason }));
    }
    const idle = this.#idle.pop();
    if (idle !== undefined) return Promise.resolve(idle);
    if (this.#all.size < this.#o.maxSockets) return Promise.resolve(this.#create());
    return new Promise<ClientConnection>((resolve, reject) => {
      const onAbort = (): void => {
        waiter.cancelled = true;
        reject(new AbortError('request aborted while waiting for a socket', { cause: signal?.reason }));
      };
      const waiter: Waiter = {
        cancelled: false,
        resolve: (connection) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(connection);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Give back a socket whose request completed: it may carry the next one. */
  release(connection: ClientConnection): void {
    if (this.#closed || connection.closed || connection.busy || connection.endpoint !== this.#endpoint) {
      this.discard(connection);
      return;
    }
    const waiter = this.#nextWaiter();
    if (waiter !== undefined) waiter.resolve(connection);
    else if (this.#idle.length < this.#o.maxIdleSockets) this.#idle.push(connection);
    else this.#drop(connection);
  }

  /** Close a socket that must not be reused (its request timed out or was aborted). */
  discard(connection: ClientConnection): void {
    this.#drop(connection);
    if (this.#closed) return;
    const waiter = this.#nextWaiter();
    if (waiter !== undefined) waiter.resolve(this.#create());
  }

  /** Close every socket; waiting callers and outstanding requests reject with `ClosedError`. */
  async close(): Promise<void> {
    this.#closed = true;
    for (let w = this.#waiters.shift(); w !== undefined; w = this.#waiters.shift()) {
      if (!w.cancelled) w.reject(new ClosedError('client'));
    }
    this.#idle.length = 0;
    for (const connection of [...this.#all]) this.#drop(connection);
    await Promise.allSettled(this.#closing);
  }

  #create(): ClientConnection {
    const connection = new ClientConnection(
      this.#nextId++,
      this.#endpoint,
      this.#o.version,
      this.#o.log,
      this.#o.stats,
      this.#o.guard,
      this.#o.security,
    );
    this.#all.add(connection);
    return connection;
  }

  #drop(connection: ClientConnection): void {
    if (!this.#all.delete(connection)) return;
    const index = this.#idle.indexOf(connection);
    if (index >= 0) this.#idle.splice(index, 1);
    const closing = connection.close();
    this.#closing.add(closing);
    void closing.finally(() => this.#closing.delete(closing));
  }

  #nextWaiter(): Waiter | undefined {
    for (let w = this.#waiters.shift(); w !== undefined; w = this.#waiters.shift()) {
      if (!w.cancelled) return w;
    }
    return undefined;
  }
}
