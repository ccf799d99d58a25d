/**
 * The one `security` option of every zpatterns socket, and how it is applied to a zeromq socket
 * before it binds or connects.
 *
 * - A connecting side (client, worker) passes `{ curve: { serverPublicKey, publicKey, secretKey } }`:
 *   its own key pair and the public key of the server it connects to.
 * - A binding side (broker, queue, server) passes `{ curve: { publicKey, secretKey }, authorize? }`:
 *   its key pair, and who may connect (an `AllowList`, a set of keys or a function; without it any
 *   CURVE client is accepted). Plain (no CURVE) clients are always refused by a CURVE server.
 *
 * Without `security` a socket stays plain (the NULL mechanism), the default.
 */
import type * as zmq from 'zeromq';
import { isZ85Key, loadPublicKey, loadSecretKeyFile, type CurveKeyPair } from './keys.js';
import { applyPeerLimits, DEFAULT_MAX_MESSAGE_BYTES } from './limits.js';
import { componentLogger, type Logger } from './logger.js';
import { ZapDomain, ZapHandler, type Authorizer, type ZapStats } from './zap.js';
import { InvalidArgumentError, InvalidStateError } from './errors.js';

/**
 * The CURVE keys of one socket: this side's key pair as Z85 strings (`generateKeyPair`,
 * `loadSecretKeyFile`) or as the secret key file `zpat keygen` writes (`keyFile`, read when the
 * socket is made; refused when group/world-readable), and, on a connecting side, the server's
 * public key (Z85, or the path of its `.pub` file).
 */
export type CurveOptions = (CurveKeyPair | { keyFile: string }) & {
  /** The server's public key (Z85 or a `.pub` file). Required on a connecting side, ignored on a binding side. */
  serverPublicKey?: string | undefined;
};

/** The `security` option of every socket factory, client, worker and server in zpatterns. */
export interface SecurityOptions {
  /** CURVE keys: this side's key pair, and on the connecting side the server's public key. */
  curve: CurveOptions;
  /** Binding side: who may connect. @default any CURVE client */
  authorize?: Authorizer | undefined;
}

/** The socket options the security helpers set: any zeromq v6 socket has them. */
export type SecurableSocket = Pick<
  zmq.Socket,
  | 'curveServer'
  | 'curvePublicKey'
  | 'curveSecretKey'
  | 'curveServerKey'
  | 'zapDomain'
  | 'zapEnforceDomain'
  | 'maxMessageSize'
  | 'events'
  | 'context'
>;

/** This side's key pair, read from `keyFile` when given that way. Throws `KeyFileError`. */
export function resolveCurveKeys(curve: CurveOptions): CurveKeyPair {
  if ('keyFile' in curve) return loadSecretKeyFile(curve.keyFile);
  return { publicKey: checkKey(curve.publicKey, 'publicKey'), secretKey: checkKey(curve.secretKey, 'secretKey') };
}

function checkKey(value: string | undefined, what: string): string {
  if (value === undefined || !isZ85Key(value)) {
    throw new InvalidArgumentError(`security.curve.${what} must be a 40-character Z85 key (see zpat keygen)`);
  }
  return value;
}

/**
 * Make a connecting socket a CURVE client. A no-op without `security`. Throws an `InvalidArgumentError` naming
 * the field when a key is missing or malformed, a `KeyFileError` for a bad key file.
 */
export function applyConnectSecurity(socket: SecurableSocket, security: SecurityOptions | undefined): void {
  if (security === undefined) return;
  const { curve } = security;
  const server = curve.serverPublicKey;
  socket.curveServerKey =
    server === undefined || isZ85Key(server) ? checkKey(server, 'serverPublicKey') : loadPublicKey(server);
  const keys = resolveCurveKeys(curve);
  socket.curvePublicKey = keys.publicKey;
  socket.curveSecretKey = keys.secretKey;
}

/** The handle of a CURVE server socket: its ZAP counters, its allow-list, its release. */
export class ServerSecurity {
  /** The ZAP domain that decides this socket's connections. */
  readonly domain: ZapDomain;
  readonly #socket: SecurableSocket;
  readonly #log: Logger;
  #registration: Promise<{ release(): Promise<void> }> | undefined;
  #watching = false;
  #released = false;
  #peers = 0;

  constructor(socket: SecurableSocket, domain: ZapDomain, logger: Logger) {
    this.#socket = socket;
    this.domain = domain;
    this.#log = logger;
  }

  /** Connections accepted and not yet closed (counted from `ready()` on). */
  get peers(): number {
    return this.#peers;
  }

  /** Allowed and denied connections so far (plain clients count as denied). */
  get stats(): ZapStats {
    return this.domain.stats;
  }

  /**
   * Register with the process's ZAP handler; await this before the socket binds (idempotent). A
   * server socket must never accept a handshake before its allow-list is in force.
   */
  async ready(): Promise<void> {
    if (this.#released) throw new InvalidStateError('server security was released');
    this.#registration ??= ZapHandler.register(this.domain, this.#socket.context);
    await this.#registration;
    if (!this.#watching) {
      this.#watching = true;
      void this.#watch();
    }
  }

  /** Re-read the allow-list, when it is an `AllowList`; returns the number of keys. */
  reload(): number | undefined {
    const authorize = this.domain.authorize;
    if (authorize === undefined || typeof authorize === 'function' || !('reload' in authorize)) return undefined;
    const size = authorize.reload();
    this.#log.info({ keys: size, path: authorize.path }, 'allow-list reloaded');
    return size;
  }

  /** Unregister from the ZAP handler (call after closing the socket). Idempotent. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    const registration = this.#registration;
    if (registration === undefined) return;
    await (await registration).release();
  }

  /** Handshakes refused before ZAP (a plain client, a bad CURVE hello) count as denials too. */
  async #watch(): Promise<void> {
    try {
      for await (const event of this.#socket.events) {
        if (event.type === 'accept') this.#peers++;
        else if (event.type === 'disconnect') this.#peers = Math.max(0, this.#peers - 1);
        else if (event.type === 'handshake:error:protocol') {
          const code = event.error.code;
          // A plain (NULL) client meeting a CURVE server fails with a mechanism mismatch.
          const reason = code === 'ERR_ZMTP_MECHANISM_MISMATCH' ? 'not CURVE (plain client?)' : event.error.message;
          this.domain.denied(`${code}@${event.address}`, { endpoint: event.address, reason, code });
        } else if (event.type === 'handshake:error:other') {
          // e.g. a plain client that saw the mismatch first and hung up: "Broken pipe"
          this.domain.denied(`other@${event.address}`, {
            endpoint: event.address,
            reason: `handshake failed: ${event.error.message}`,
          });
        }
      }
    } catch {
      // the socket closed
    }
  }
}

/**
 * Prepare a socket that accepts peers: the object's own frame limit `maxMessageBytes` (16 MiB
 * unless the object's option says otherwise; see `applyPeerLimits`) always, and,
 * with `security`, make it a CURVE server whose clients are checked by ZAP with
 * `security.authorize`, the ZAP domain enforced (libzmq refuses a handshake when no handler
 * answers instead of admitting it). Returns `undefined` without `security`. Await `ready()` on the
 * result before binding and call `release()` after closing the socket.
 */
export function applyBindSecurity(
  socket: SecurableSocket,
  security: SecurityOptions | undefined,
  logger?: Logger,
  maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES,
): ServerSecurity | undefined {
  applyPeerLimits(socket, maxMessageBytes);
  if (security === undefined) return undefined;
  const keys = resolveCurveKeys(security.curve);
  socket.curveServer = true;
  socket.zapEnforceDomain = true;
  socket.curvePublicKey = keys.publicKey;
  socket.curveSecretKey = keys.secretKey;
  const name = ZapHandler.uniqueDomain();
  socket.zapDomain = name;
  const log = componentLogger(logger, { component: 'security' });
  return new ServerSecurity(socket, new ZapDomain(name, { authorize: security.authorize, logger }), log);
}
