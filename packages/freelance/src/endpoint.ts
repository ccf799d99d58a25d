/**
 * A Freelance server's routing id is its public endpoint, and libzmq fixes the routing id before
 * `bind()`. A server bound to `tcp://host:*` cannot learn its port first, so it picks a free port
 * beforehand: listen on port 0, read the port the kernel chose, close, then bind exactly there.
 * Another process could take the port in between; `FreelanceServer.start` retries on EADDRINUSE.
 */
import { createServer } from 'node:net';
import { BindError, invalidOption } from '@zpatterns/core';

/** A free TCP port on `host`, as the kernel hands out for `listen(0)`. */
export function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() =>
        port > 0 ? resolve(port) : reject(new BindError(`tcp://${host}:0`, `listen(0) on ${host} gave no port`)),
      );
    });
  });
}

/** `tcp://host:PORT` on a free port of `host` (default loopback), for a server that must know its endpoint. */
export async function freeTcpEndpoint(host = '127.0.0.1'): Promise<string> {
  return `tcp://${host.includes(':') ? `[${host}]` : host}:${await freeTcpPort(host)}`;
}

const TCP = /^tcp:\/\/(\[[^\]]*\]|[^:/]+):(\*|\d+)$/;

/**
 * Throw `InvalidArgumentError` for an endpoint `concreteBindEndpoint` cannot make concrete: a
 * wildcard other than `tcp://host:*` (an `ipc://*` has no public name to use).
 */
export function checkBindEndpoint(bind: string): void {
  if (!TCP.test(bind) && bind.includes('*')) {
    throw invalidOption('FreelanceServer', 'bind', 'an endpoint whose only wildcard is tcp://host:*', bind);
  }
}

/**
 * Make `bind` concrete: `tcp://host:*` gets a free port of `host`. Other endpoints are returned
 * as they are. Throws for an `ipc://*` style wildcard, which has no public name to use.
 */
export async function concreteBindEndpoint(bind: string): Promise<string> {
  checkBindEndpoint(bind);
  const match = TCP.exec(bind);
  if (match === null) return bind;
  const [, host = '', port] = match;
  if (port !== '*') return bind;
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  const listenHost = bare === '*' ? '0.0.0.0' : bare;
  return `tcp://${host}:${await freeTcpPort(listenHost)}`;
}

/**
 * The public endpoint of a server bound to `bind` (already concrete): the bind endpoint itself,
 * with a wildcard host (`*`, `0.0.0.0`) replaced by `localhost` as in the book's `flserver3`.
 */
export function defaultPublicEndpoint(bind: string): string {
  return bind.replace(/^tcp:\/\/(\*|0\.0\.0\.0|\[::\]):/, 'tcp://localhost:');
}
