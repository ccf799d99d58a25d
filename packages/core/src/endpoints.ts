/** Endpoint helpers: loopback with ephemeral ports, and private ipc paths. */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BindError } from './errors.js';

/** Bind to an ephemeral port on loopback; read the real endpoint from `socket.lastEndpoint`. */
export const LOOPBACK_ANY = 'tcp://127.0.0.1:*';

/** Anything with zeromq's `bind` and `lastEndpoint`. */
export interface Bindable {
  /** Bind to `endpoint`; resolves when bound. */
  bind(endpoint: string): Promise<void>;
  /** The endpoint actually bound last (with the port the kernel chose), or `null`. */
  readonly lastEndpoint: string | null;
}

/**
 * Bind `socket` to `endpoint` (default `tcp://127.0.0.1:*`) and return the endpoint actually
 * bound, with the port the kernel chose. Rejects with `BindError` (the socket's error, such as
 * EADDRINUSE, as its `cause` and in its message).
 */
export async function bindEndpoint(socket: Bindable, endpoint: string = LOOPBACK_ANY): Promise<string> {
  try {
    await socket.bind(endpoint);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new BindError(endpoint, `could not bind ${endpoint}: ${why}`, { cause: err });
  }
  const bound = socket.lastEndpoint;
  if (bound === null) throw new BindError(endpoint, `bind ${endpoint}: no lastEndpoint`);
  return bound;
}

/** A fresh `ipc://` endpoint in the temp directory, unique per call. */
export function ipcEndpoint(prefix = 'zpatterns'): string {
  return `ipc://${join(tmpdir(), `${prefix}-${process.pid}-${randomBytes(6).toString('hex')}.sock`)}`;
}

/** A fresh `inproc://` endpoint, unique per call. */
export function inprocEndpoint(prefix = 'zpatterns'): string {
  return `inproc://${prefix}-${randomBytes(6).toString('hex')}`;
}

/** True for an endpoint that binds to all interfaces (`tcp://*:port`, `tcp://0.0.0.0:port`). */
export function isWildcardEndpoint(endpoint: string): boolean {
  return /^tcp:\/\/(\*|0\.0\.0\.0|\[::\]):/.test(endpoint);
}
