/** Where a Clone server listens: its three endpoints, and the book's `tcp://HOST:P` shorthand for them. */
import { InvalidArgumentError } from '@zpatterns/core';

/** The three endpoints of one Clone server; `serverAddress()` derives them from `tcp://HOST:P`. */
export interface CloneServerAddress {
  /** The server's snapshot ROUTER (port P): where a client asks for the current map. */
  snapshot: string;
  /** The server's update PUB (port P+1): where a client hears every update and HUGZ. */
  publisher: string;
  /** The server's collector SUB (port P+2): where a client publishes its writes. */
  collector: string;
}

/** Parse `tcp://HOST:P` into the three endpoints of the book's port layout. */
export function serverAddress(server: string | CloneServerAddress): CloneServerAddress {
  if (typeof server !== 'string') return server;
  const match = /^(tcp:\/\/.+):(\d+)$/.exec(server);
  const port = match === null ? Number.NaN : Number(match[2]);
  if (match === null || !Number.isInteger(port) || port < 1 || port > 65533) {
    throw new InvalidArgumentError(`clone server must look like tcp://HOST:PORT, got ${JSON.stringify(server)}`);
  }
  const host = match[1] ?? '';
  return { snapshot: `${host}:${port}`, publisher: `${host}:${port + 1}`, collector: `${host}:${port + 2}` };
}
