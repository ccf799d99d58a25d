/**
 * A TCP proxy on loopback for fault tests: put it between a client and a server (a daemon and its
 * database, a Clone server and its peer, a client and a broker) and break the link on demand.
 *
 *   await using proxy = await startTcpProxy({ target: 'tcp://127.0.0.1:5432' });
 *   connectTo(proxy.endpoint);
 *   proxy.blackhole();   // a partition: connections stay open, no byte moves, no RST, no FIN
 *   proxy.blackhole('down'); // one way: what the target sends is held, what clients send goes on
 *   proxy.forward();     // healed: what was held is delivered in order, as TCP retransmission would
 *   proxy.cut();         // every connection reset; new ones reset at once until forward()
 *   proxy.delay(200);    // 200 ms more latency each way
 *
 * Every mode applies to all connections, open and future; `proxy.connections[i].cut()` (and the
 * others) applies to one connection alone. Bytes are held, never dropped: a held stream resumes
 * intact, so protocols with framing (ZMTP, PostgreSQL's) see a stall, not corruption. While a
 * connection is black-holed its sockets are paused, so the sender's kernel buffers fill and its
 * writes block, as on a real partition.
 */
import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

/** What a proxy or one of its connections does with bytes. */
export type ProxyMode = 'forward' | 'blackhole' | 'cut' | 'delay';

/**
 * Which bytes a black hole holds: `up` = from clients to the target, `down` = from the target to
 * clients, `both`. A connection accepted during any black hole is held whole (no handshake gets
 * through a one-way loss either) until healed.
 */
export type ProxyDirection = 'both' | 'up' | 'down';

/** Counters over the proxy's life. */
export interface ProxyStats {
  /** Connections accepted. */
  accepted: number;
  /** Connections open now. */
  active: number;
  /** Bytes delivered from clients to the target. */
  bytesUp: number;
  /** Bytes delivered from the target to clients. */
  bytesDown: number;
}

/** The controls shared by the proxy (all connections) and one connection. */
export interface ProxyControls {
  readonly mode: ProxyMode;
  /** While black-holed, which way bytes are held. */
  readonly direction: ProxyDirection;
  /** Forward bytes as they come; resumes what was held. */
  forward(): void;
  /**
   * Hold every byte and every close in `direction` (@default 'both') until `forward()` or
   * `delay()`. One way, the other direction keeps flowing.
   */
  blackhole(direction?: ProxyDirection): void;
  /** Reset (RST) the connections. On the proxy, later connections are reset at once too. */
  cut(): void;
  /** Forward with `ms` of added latency each way, order kept. */
  delay(ms: number): void;
}

export interface ProxyConnection extends ProxyControls {
  /** 1, 2, … in the order the proxy accepted them. */
  readonly id: number;
  /** True once both sides are closed. */
  readonly closed: boolean;
}

export interface TcpProxy extends ProxyControls, AsyncDisposable {
  /** `tcp://127.0.0.1:PORT`: where clients connect. */
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  /** Open connections, oldest first. */
  readonly connections: readonly ProxyConnection[];
  readonly stats: Readonly<ProxyStats>;
  /** Stop listening and destroy every connection. Idempotent. */
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  /**
   * Where to forward: `tcp://host:port`, `{ host, port }`, or `{ path }` for a unix socket (a
   * PostgreSQL that listens only on one, e.g. `<socket dir>/.s.PGSQL.5432`).
   */
  target: string | { host: string; port: number } | { path: string };
  /** The first mode. @default 'forward' */
  mode?: Exclude<ProxyMode, 'delay'>;
}

type Item =
  { due: number; kind: 'data'; chunk: Buffer } | { due: number; kind: 'end' } | { due: number; kind: 'reset' };

/** One direction of a connection: what `from` sends, held or delayed, delivered to `to`. */
class Lane {
  readonly #queue: Item[] = [];
  #timer: NodeJS.Timeout | undefined;
  #backpressure = false;
  #done = false;

  constructor(
    readonly way: 'up' | 'down',
    readonly from: Socket,
    private readonly to: () => Socket | undefined,
    private readonly conn: Connection,
    private readonly count: (bytes: number) => void,
  ) {}

  push(item: Item): void {
    if (this.#done) return;
    this.#queue.push(item);
    this.flush();
  }

  /** Deliver whatever is due, unless the connection holds; pause the source while it must wait. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const to = this.to();
    if (this.conn.holds(this.way) || to === undefined || to.connecting) {
      this.#pauseSource();
      return;
    }
    const now = Date.now();
    for (;;) {
      const head = this.#queue[0];
      if (head === undefined) break;
      if (head.due > now) {
        this.#timer = setTimeout(() => this.flush(), head.due - now);
        break;
      }
      this.#queue.shift();
      if (head.kind === 'reset') {
        this.#done = true;
        this.conn.reset();
        return;
      }
      if (head.kind === 'end') {
        this.#done = true;
        to.end();
        return;
      }
      this.count(head.chunk.length);
      if (!to.write(head.chunk) && !this.#backpressure) {
        this.#backpressure = true;
        to.once('drain', () => {
          this.#backpressure = false;
          this.flush();
        });
      }
    }
    if (this.#backpressure) this.#pauseSource();
    else this.from.resume();
  }

  #pauseSource(): void {
    if (!this.from.destroyed) this.from.pause();
  }

  stop(): void {
    this.#done = true;
    clearTimeout(this.#timer);
    this.#queue.length = 0;
  }
}

class Connection implements ProxyConnection {
  mode: ProxyMode;
  direction: ProxyDirection = 'both';
  #delayMs = 0;
  #upstream: Socket | undefined;
  readonly #up: Lane;
  #down: Lane | undefined;

  constructor(
    readonly id: number,
    private readonly client: Socket,
    mode: ProxyMode,
    direction: ProxyDirection,
    delayMs: number,
    private readonly target: { host: string; port: number } | { path: string },
    private readonly stats: ProxyStats,
    private readonly onClosed: (conn: Connection) => void,
  ) {
    this.mode = mode;
    // A connection opened during a black hole is held whole, whichever way the hole is.
    this.direction = mode === 'blackhole' ? 'both' : direction;
    this.#delayMs = delayMs;
    this.#up = new Lane(
      'up',
      client,
      () => this.#upstream,
      this,
      (n) => (stats.bytesUp += n),
    );
    this.#wire(client, this.#up);
    if (mode === 'cut') this.reset();
    else if (mode !== 'blackhole') this.#connect();
    else client.pause();
  }

  get closed(): boolean {
    return this.client.destroyed && (this.#upstream === undefined || this.#upstream.destroyed);
  }

  forward(): void {
    this.#set('forward', 0);
  }

  blackhole(direction: ProxyDirection = 'both'): void {
    if (this.mode === 'cut') return;
    this.direction = direction;
    this.#set('blackhole', 0);
  }

  /** Whether bytes going `way` are held now. */
  holds(way: 'up' | 'down'): boolean {
    return this.mode === 'blackhole' && (this.direction === 'both' || this.direction === way);
  }

  delay(ms: number): void {
    this.#set('delay', ms);
  }

  cut(): void {
    this.mode = 'cut';
    this.reset();
  }

  /** RST both sides now. */
  reset(): void {
    this.#up.stop();
    this.#down?.stop();
    if (!this.client.destroyed) this.client.resetAndDestroy();
    if (this.#upstream !== undefined && !this.#upstream.destroyed) {
      // A unix socket has no RST: it is simply closed.
      if (this.#upstream.connecting || 'path' in this.target) this.#upstream.destroy();
      else this.#upstream.resetAndDestroy();
    }
  }

  #set(mode: ProxyMode, delayMs: number): void {
    if (this.mode === 'cut') return;
    this.mode = mode;
    this.#delayMs = delayMs;
    if (mode !== 'blackhole' && this.#upstream === undefined) this.#connect();
    this.#up.flush();
    this.#down?.flush();
  }

  #connect(): void {
    const upstream = createConnection({ ...this.target, allowHalfOpen: true });
    this.#upstream = upstream;
    this.#down = new Lane(
      'down',
      upstream,
      () => this.client,
      this,
      (n) => (this.stats.bytesDown += n),
    );
    this.#wire(upstream, this.#down);
    upstream.once('connect', () => this.#up.flush());
  }

  #wire(socket: Socket, lane: Lane): void {
    socket.setNoDelay(true);
    const due = () => (this.mode === 'delay' ? Date.now() + this.#delayMs : 0);
    socket.on('data', (chunk: Buffer) => lane.push({ due: due(), kind: 'data', chunk }));
    socket.on('end', () => lane.push({ due: due(), kind: 'end' }));
    // A reset (or a refused upstream connection) is carried to the other side like the bytes were.
    socket.on('error', () => lane.push({ due: due(), kind: 'reset' }));
    socket.on('close', () => {
      if (this.closed) {
        this.#up.stop();
        this.#down?.stop();
        this.onClosed(this);
      }
    });
  }
}

function parseTarget(target: TcpProxyOptions['target']): { host: string; port: number } | { path: string } {
  if (typeof target !== 'string') return target;
  const match = /^tcp:\/\/(.+):(\d+)$/.exec(target);
  if (match?.[1] === undefined || match[2] === undefined) {
    throw new TypeError(`target must be tcp://host:port, got ${target}`);
  }
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port: Number(match[2]) };
}

/** Start a proxy on `127.0.0.1` (ephemeral port) that forwards to `target`. */
export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const target = parseTarget(options.target);
  const stats: ProxyStats = { accepted: 0, active: 0, bytesUp: 0, bytesDown: 0 };
  const open = new Set<Connection>();
  let mode: ProxyMode = options.mode ?? 'forward';
  let direction: ProxyDirection = 'both';
  let delayMs = 0;
  let nextId = 1;

  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    stats.accepted += 1;
    stats.active += 1;
    const conn = new Connection(nextId++, client, mode, direction, delayMs, target, stats, (c) => {
      if (open.delete(c)) stats.active -= 1;
    });
    open.add(conn);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const applyAll = (fn: (c: Connection) => void) => {
    for (const c of open) fn(c);
  };
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      applyAll((c) => c.reset());
    }));

  return {
    endpoint: `tcp://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    get connections() {
      return [...open];
    },
    stats,
    get mode() {
      return mode;
    },
    forward() {
      mode = 'forward';
      applyAll((c) => c.forward());
    },
    get direction() {
      return direction;
    },
    blackhole(way: ProxyDirection = 'both') {
      mode = 'blackhole';
      direction = way;
      applyAll((c) => c.blackhole(way));
    },
    cut() {
      mode = 'cut';
      applyAll((c) => c.cut());
    },
    delay(ms: number) {
      mode = 'delay';
      delayMs = ms;
      applyAll((c) => c.delay(ms));
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
