/**
 * Endpoint flags, checked before anything starts, with the same rules in every daemon and command:
 *
 *   tcp://HOST:PORT   HOST a name, an IPv4 address or [IPv6]; PORT 1-65535
 *                     where a flag binds, HOST may be `*` (every interface) and PORT `*` (any free port)
 *   ipc://PATH        a path of at most 107 bytes (the kernel's limit); `ipc://*` where a flag binds
 *   inproc://NAME     a name (only peers in the same process can reach it)
 *
 * A bad value is a usage error naming the flag: `mdbroker: error: --bind: port 99999 is out of
 * range (1-65535)`. Peer lists (`--broker`, `--server`) take the flag repeated, a comma list, or both.
 */
import { InvalidArgumentError, Option } from 'commander';

/** Whether a flag binds (where `*` is allowed) or connects to a peer. */
export type EndpointUse = 'bind' | 'connect';

/** The transports a zpatterns daemon or client accepts. */
export const ENDPOINT_SCHEMES: readonly string[] = ['tcp', 'ipc', 'inproc'];

/** Longest ipc path: `sizeof(sun_path)` on Linux is 108 bytes, one of them the final NUL. */
export const MAX_IPC_PATH_BYTES = 107;

const EXPECTED = 'expected an endpoint (tcp://host:port, ipc://path or inproc://name)';

/**
 * Check one endpoint; return it unchanged, or throw commander's `InvalidArgumentError` with a
 * message that reads after the flag's name (`port 99999 is out of range (1-65535)`).
 */
export function checkEndpoint(value: string, use: EndpointUse): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(value);
  if (scheme === null) throw new InvalidArgumentError(`${EXPECTED}, got '${value}'`);
  const [, name = '', rest = ''] = scheme;
  switch (name.toLowerCase()) {
    case 'tcp':
      checkTcp(rest, use);
      return value;
    case 'ipc':
      checkIpc(rest, use);
      return value;
    case 'inproc':
      if (rest === '') throw new InvalidArgumentError(`inproc endpoint '${value}' has no name`);
      return value;
    default:
      throw new InvalidArgumentError(`transport '${name}' is not supported: use tcp://, ipc:// or inproc://`);
  }
}

function checkTcp(rest: string, use: EndpointUse): void {
  // A connect may name its source address first (`tcp://src;host:port`), as libzmq allows.
  const target = use === 'connect' && rest.includes(';') ? rest.slice(rest.lastIndexOf(';') + 1) : rest;
  const match = /^(\[[^\]]*\]|[^:[\]]*):([^:]*)$/.exec(target);
  if (match === null) {
    throw new InvalidArgumentError(`tcp endpoint 'tcp://${rest}' needs a host and a port (tcp://host:port)`);
  }
  const [, host = '', port = ''] = match;
  checkHost(host, use);
  checkPort(port, use);
}

function checkHost(host: string, use: EndpointUse): void {
  if (host === '') throw new InvalidArgumentError('tcp endpoint has no host (tcp://host:port)');
  if (host === '*') {
    if (use === 'bind') return;
    throw new InvalidArgumentError("host '*' only makes sense for a bind: name the peer's host");
  }
  if (host.startsWith('[')) {
    if (!/^\[[0-9a-f:.]+(%[\w.-]+)?\]$/i.test(host)) throw new InvalidArgumentError(`'${host}' is not an IPv6 address`);
    return;
  }
  if (/^[\d.]+$/.test(host)) {
    const octets = host.split('.');
    if (octets.length !== 4 || octets.some((o) => o === '' || Number(o) > 255)) {
      throw new InvalidArgumentError(`'${host}' is not an IPv4 address`);
    }
    return;
  }
  if (!/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/i.test(host)) {
    throw new InvalidArgumentError(`'${host}' is not a host name or address`);
  }
}

function checkPort(port: string, use: EndpointUse): void {
  if (port === '*') {
    if (use === 'bind') return;
    throw new InvalidArgumentError("port '*' only makes sense for a bind: name the peer's port");
  }
  if (!/^\d+$/.test(port)) {
    throw new InvalidArgumentError(
      port === '' ? 'tcp endpoint has no port (tcp://host:port)' : `port '${port}' is not a number`,
    );
  }
  const n = Number(port);
  if (n < 1 || n > 65_535) {
    const hint = use === 'bind' && n === 0 ? '; use * for any free port' : '';
    throw new InvalidArgumentError(`port ${port} is out of range (1-65535${hint})`);
  }
}

function checkIpc(path: string, use: EndpointUse): void {
  if (path === '') throw new InvalidArgumentError('ipc endpoint has no path (ipc:///run/x.sock)');
  if (path === '*') {
    if (use === 'bind') return;
    throw new InvalidArgumentError("ipc://* only makes sense for a bind: name the peer's socket file");
  }
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_IPC_PATH_BYTES) {
    throw new InvalidArgumentError(`ipc path is ${bytes} bytes, longer than the ${MAX_IPC_PATH_BYTES} allowed`);
  }
}

/** Parser of a flag that binds: `*` allowed as host and as port, and `ipc://*`. */
export function bindEndpointFlag(value: string): string {
  return checkEndpoint(value, 'bind');
}

/** Parser of a flag naming a peer to connect to: a host and a port, never `*`. */
export function connectEndpointFlag(value: string): string {
  return checkEndpoint(value, 'connect');
}

/**
 * A host flag (`clonesrv --host`, `--metrics-host`): the host part of a tcp endpoint, checked the
 * same way; `*` only where the flag binds.
 */
export function hostFlag(use: EndpointUse): (value: string) => string {
  return (value) => {
    try {
      checkHost(value, use);
    } catch {
      throw new InvalidArgumentError(`'${value}' is not a host name or address${use === 'bind' ? ' (or *)' : ''}`);
    }
    return value;
  };
}

/**
 * A port flag (`clonesrv --port`): a whole number 1-65535; `span` ports from it must fit, so a
 * base port for three sockets stops at 65533 and says why.
 */
export function portFlag(span = 1): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`port '${value}' is not a number`);
    const n = Number(value);
    const last = 65_535 - (span - 1);
    if (n < 1 || n > 65_535) throw new InvalidArgumentError(`port ${value} is out of range (1-65535)`);
    if (n > last) {
      throw new InvalidArgumentError(`port ${n} leaves no room for ports ${n}-${n + span - 1} (at most ${last})`);
    }
    return n;
  };
}

/**
 * Split one value of a peer-list flag (`a,b`, spaces allowed after commas) and check each entry.
 * An empty entry (`a,,b`, a trailing comma) is refused.
 */
export function splitPeerList(value: string, parse: (entry: string) => string): string[] {
  const entries = value.split(',').map((entry) => entry.trim());
  if (entries.some((entry) => entry === '')) {
    throw new InvalidArgumentError(`empty entry in '${value}' (separate endpoints with single commas)`);
  }
  return entries.map(parse);
}

/** Options of `peerListOption(flags, description, options)`. */
export interface PeerListOptions {
  /** How each entry is checked. @default connectEndpointFlag */
  parse?: (entry: string) => string;
  /** Used when the flag is not given; the first value given replaces it (it is not added to). */
  default?: readonly string[];
}

/**
 * A repeatable flag holding a list of peers: `--broker A --broker B`, `--broker A,B`, or both,
 * in the order given, each entry checked (a connect endpoint unless `parse` says otherwise). A peer
 * named twice is a usage error. From the environment the same comma list works:
 * `ZPAT_BROKER=tcp://a:5555,tcp://b:5556`. The value is a `string[]`.
 */
export function peerListOption(flags: string, description: string, options: PeerListOptions = {}): Option {
  const parse = options.parse ?? connectEndpointFlag;
  const fallback = options.default;
  const option = new Option(flags, `${description} (repeatable, or a comma list)`).argParser(
    (value: string, previous: string[] | undefined): string[] => {
      const earlier = previous === undefined || previous === fallback ? [] : previous;
      const list = [...earlier];
      for (const entry of splitPeerList(value, parse)) {
        if (list.includes(entry)) throw new InvalidArgumentError(`${entry} is named twice`);
        list.push(entry);
      }
      return list;
    },
  );
  if (fallback !== undefined) option.default(fallback, JSON.stringify(fallback.join(',')));
  return option;
}
