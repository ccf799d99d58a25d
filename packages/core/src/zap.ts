/**
 * ZAP (RFC 27): the authentication handler of a ZeroMQ context (one per context, as libzmq
 * requires), a ROUTER on `inproc://zeromq.zap.01`.
 *
 * libzmq asks it about every CURVE handshake on a socket of the same context. Each securing socket
 * registers a ZAP domain with its own `Authorizer` (usually an `AllowList`), so several servers in
 * one process keep separate lists. The handler is bound when the first domain registers and closed
 * when the last one leaves, so it never keeps a process alive on its own.
 *
 *   libzmq (handshake) ──▶ [ "", "1.0", id, domain, address, identity, "CURVE", key ]  ──▶ ZapHandler
 *   libzmq             ◀── [ "", "1.0", id, "200"|"400", text, user id, metadata ]    ◀──
 */
import * as zmq from 'zeromq';
import { systemClock, type Clock } from './clock.js';
import { readPublicKeys, z85Encode } from './keys.js';
import { componentLogger, type Logger } from './logger.js';
import { WarningLimiter } from './warning-limiter.js';
import { InvalidStateError } from './errors.js';

/** The fixed endpoint of RFC 27. */
export const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
const VERSION = Buffer.from('1.0');
const EMPTY = Buffer.alloc(0);

/** One ZAP request, decoded. */
export interface ZapRequest {
  /** The ZAP domain of the socket being connected to. */
  domain: string;
  /** The peer's address as libzmq reports it (an IP for tcp). */
  address: string;
  /** The peer's routing id, when it set one. */
  identity: Buffer;
  /** The security mechanism: `NULL`, `PLAIN` or `CURVE`. */
  mechanism: string;
  /** For CURVE: the client's long-term public key in Z85. */
  publicKey?: string;
}

/** A set of allowed CURVE public keys, loaded from a directory or file and reloadable. */
export class AllowList {
  /** The directory or file the keys are loaded from. */
  readonly path: string;
  #keys: Set<string>;

  constructor(path: string) {
    this.path = path;
    this.#keys = readPublicKeys(path);
  }

  /** Re-read the directory or file. On error the previous list stays and the error is thrown. */
  reload(): number {
    this.#keys = readPublicKeys(this.path);
    return this.#keys.size;
  }

  /** Whether `publicKey` (Z85) is on the list as last loaded. */
  has(publicKey: string): boolean {
    return this.#keys.has(publicKey);
  }

  /** How many keys are allowed. */
  get size(): number {
    return this.#keys.size;
  }
}

/**
 * Who may connect: an `AllowList`, a `Set` of Z85 public keys, or a function deciding on the whole
 * request. Without one, every CURVE client is accepted (encryption without authentication).
 */
export type Authorizer = AllowList | ReadonlySet<string> | ((request: ZapRequest) => boolean);

/**
 * Counters of one ZAP domain. `denied` includes handshakes refused before ZAP (plain clients) and
 * those refused because `authorize` threw (`errors` counts these again on their own).
 */
export interface ZapStats {
  /** Connections admitted. */
  allowed: number;
  /** Connections refused, plain clients included. */
  denied: number;
  /** Connections refused because `authorize` threw. */
  errors: number;
}

/** How many distinct keys the denial log remembers at most; the oldest is forgotten first. */
export const ZAP_DENIAL_KEYS_TRACKED = 1024;

/** Options of `new ZapDomain(name, options)`. */
export interface ZapDomainOptions {
  /** Decides each CURVE handshake; without it every client key is accepted (encryption only). */
  authorize?: Authorizer | undefined;
  /** Parent logger for denial lines. @default silent */
  logger?: Logger | undefined;
  /** Time source of the denial-log rate limits. @default systemClock */
  clock?: Clock | undefined;
  /** Log a denial at most once per key (or address) per this period. @default 60000 */
  denialLogIntervalMs?: number | undefined;
  /** Denial lines per second at most, all keys together (the rest are counted). @default 10 */
  maxDenialLogsPerSecond?: number | undefined;
}

/**
 * Logs each denial once per key per period, counts allowed and denied. Its memory is bounded
 * whatever the peers do: it remembers at most `ZAP_DENIAL_KEYS_TRACKED` keys, and logs at most
 * `maxDenialLogsPerSecond` denials a second (then one line with the number suppressed), so a peer
 * presenting a fresh key on every handshake grows neither the map nor the log.
 */
export class ZapDomain {
  /** The ZAP domain this instance answers for (the socket's `zapDomain`). */
  readonly name: string;
  readonly #stats: ZapStats = { allowed: 0, denied: 0, errors: 0 };
  /** Decides each connection; replace it to change the policy of a running server. */
  authorize: Authorizer | undefined;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  /** key → when it was last logged; insertion order is time order (re-inserted on each log). */
  readonly #lastLogged = new Map<string, number>();
  readonly #limiter: WarningLimiter;

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): ZapStats {
    return { ...this.#stats };
  }

  constructor(name: string, options: ZapDomainOptions = {}) {
    this.name = name;
    this.authorize = options.authorize;
    this.#log = componentLogger(options.logger, { component: 'zap', domain: name });
    this.#clock = options.clock ?? systemClock;
    this.#intervalMs = options.denialLogIntervalMs ?? 60_000;
    this.#limiter = new WarningLimiter(this.#log, this.#clock, options.maxDenialLogsPerSecond ?? 10);
  }

  /** How many keys the denial log remembers now (at most `ZAP_DENIAL_KEYS_TRACKED`). */
  get trackedKeys(): number {
    return this.#lastLogged.size;
  }

  /**
   * Decide on one request, count it and log a denial (rate-limited). An exception in `authorize`
   * is logged and counted, and the request denied: the handler never fails open and never stops.
   */
  decide(request: ZapRequest): boolean {
    let allowed: boolean;
    try {
      allowed = request.mechanism === 'CURVE' && request.publicKey !== undefined && this.#allows(request);
    } catch (err) {
      this.#stats.errors++;
      this.#log.error(
        { err, peer: request.address, publicKey: request.publicKey, errors: this.#stats.errors },
        'ZAP authorize threw: connection denied',
      );
      allowed = false;
    }
    if (allowed) {
      this.#stats.allowed++;
      this.#log.debug({ peer: request.address, publicKey: request.publicKey }, 'connection allowed');
    } else {
      this.denied(request.publicKey ?? `${request.mechanism}@${request.address}`, {
        peer: request.address,
        mechanism: request.mechanism,
        publicKey: request.publicKey,
      });
    }
    return allowed;
  }

  /** Count a denial and log it unless this key was logged within the period. */
  denied(key: string, fields: Record<string, unknown>): void {
    this.#stats.denied++;
    const now = this.#clock.now();
    for (const [k, at] of this.#lastLogged) {
      if (now - at < this.#intervalMs) break;
      this.#lastLogged.delete(k);
    }
    if (this.#lastLogged.has(key)) return;
    if (this.#lastLogged.size >= ZAP_DENIAL_KEYS_TRACKED) {
      const oldest = this.#lastLogged.keys().next();
      if (oldest.done !== true) this.#lastLogged.delete(oldest.value);
    }
    this.#lastLogged.set(key, now);
    this.#limiter.warn({ ...fields, denied: this.#stats.denied, allowed: this.#stats.allowed }, 'connection denied');
  }

  #allows(request: ZapRequest): boolean {
    const authorize = this.authorize;
    if (authorize === undefined) return true;
    if (typeof authorize === 'function') return authorize(request);
    return authorize.has(request.publicKey ?? '');
  }
}

/** Decode the frames after the ROUTER envelope (`[id, ""]`); undefined when malformed. */
export function decodeZapRequest(frames: readonly Buffer[]): { requestId: Buffer; request: ZapRequest } | undefined {
  const [version, requestId, domain, address, identity, mechanism, ...credentials] = frames;
  if (version === undefined || !version.equals(VERSION)) return undefined;
  if (requestId === undefined || domain === undefined || address === undefined) return undefined;
  if (identity === undefined || mechanism === undefined) return undefined;
  const request: ZapRequest = {
    domain: domain.toString('utf8'),
    address: address.toString('utf8'),
    identity,
    mechanism: mechanism.toString('latin1'),
  };
  const [key] = credentials;
  if (request.mechanism === 'CURVE' && key?.length === 32) request.publicKey = z85Encode(key);
  return { requestId, request };
}

/** The reply frames (after the envelope) of RFC 27. */
export function encodeZapReply(requestId: Buffer, allowed: boolean, userId: string): Buffer[] {
  return [
    VERSION,
    requestId,
    Buffer.from(allowed ? '200' : '400'),
    Buffer.from(allowed ? 'OK' : 'Not allowed'),
    Buffer.from(allowed ? userId : ''),
    EMPTY,
  ];
}

/** A handler closed a moment ago may still hold the endpoint: retry EADDRINUSE briefly. */
async function bindWithRetry(socket: zmq.Router): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await socket.bind(ZAP_ENDPOINT);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EADDRINUSE' || attempt >= 100) throw err;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** One handler per ZeroMQ context (libzmq's rule: one ZAP endpoint per context), while it has domains. */
const handlers = new WeakMap<zmq.Context, ZapHandler>();
let nextDomain = 1;

/** The ZAP handler of a ZeroMQ context (one per context). Use `ZapHandler.register()`; it binds and closes itself. */
export class ZapHandler {
  readonly #socket: zmq.Router;
  readonly #domains = new Map<string, ZapDomain>();
  readonly #bound: Promise<void>;
  #loop: Promise<void> | undefined;

  private constructor(context: zmq.Context) {
    this.#socket = new zmq.Router({ linger: 0, context });
    this.#bound = bindWithRetry(this.#socket);
    this.#bound.then(
      () => (this.#loop = this.#run()),
      () => undefined,
    );
  }

  /**
   * Register a domain (a fresh unique name when omitted) and resolve once the handler is bound,
   * so a socket that binds after this never handshakes without it. `release()` unregisters.
   */
  static async register(
    domain: ZapDomain,
    context: zmq.Context = zmq.context,
  ): Promise<{
    /** Unregister the domain; idempotent. The context's handler closes when no domain is left. */
    release(): Promise<void>;
  }> {
    let handler = handlers.get(context);
    if (handler === undefined) {
      handler = new ZapHandler(context);
      handlers.set(context, handler);
    }
    const owner = handler;
    if (owner.#domains.has(domain.name)) throw new InvalidStateError(`ZAP domain ${domain.name} is already registered`);
    owner.#domains.set(domain.name, domain);
    await owner.#bound;
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        owner.#domains.delete(domain.name);
        if (owner.#domains.size === 0 && handlers.get(context) === owner) {
          handlers.delete(context);
          owner.#socket.close();
          await owner.#loop;
        }
      },
    };
  }

  /** A domain name not used before in this process. */
  static uniqueDomain(prefix = 'zpatterns'): string {
    return `${prefix}-${process.pid}-${nextDomain++}`;
  }

  /**
   * Answer every request until the socket closes. Nothing a request or a domain does can end this
   * loop: with the domains enforced (`zapEnforceDomain`), a handler that stopped answering would
   * leave every later CURVE handshake of the process hanging.
   */
  async #run(): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await this.#socket.receive();
      } catch {
        return; // closed
      }
      let reply: Buffer[] | undefined;
      try {
        reply = this.#answer(frames);
      } catch {
        reply = undefined; // a decoding bug: libzmq times the handshake out rather than admit it
      }
      if (reply === undefined) continue;
      try {
        await this.#socket.send(reply);
      } catch {
        if (this.#socket.closed) return;
        // the asking socket went away meanwhile: nobody to answer
      }
    }
  }

  #answer(frames: Buffer[]): Buffer[] | undefined {
    const [routingId, delimiter, ...body] = frames;
    if (routingId === undefined || delimiter === undefined) return undefined;
    const decoded = decodeZapRequest(body);
    if (decoded === undefined) return undefined; // libzmq never sends this; nothing sane to answer
    const domain = this.#domains.get(decoded.request.domain);
    const allowed = domain?.decide(decoded.request) ?? false;
    return [routingId, EMPTY, ...encodeZapReply(decoded.requestId, allowed, decoded.request.publicKey ?? '')];
  }
}
