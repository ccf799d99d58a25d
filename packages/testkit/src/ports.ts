/**
 * Consecutive free loopback ports, for daemons whose protocol fixes a port layout (Clone's P, P+1,
 * P+2). Found by binding each port with `net`; another process may still take one before the
 * daemon binds it, so callers that can should bind `tcp://127.0.0.1:*` instead.
 */
import { createServer, type Server } from 'node:net';

function listen(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The first of `count` consecutive ports that were all free on 127.0.0.1 a moment ago. */
export async function freePortRange(count: number, attempts = 50): Promise<number> {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    const first = await listen(0);
    if (first === undefined) continue;
    const base = (first.address() as { port: number }).port;
    const held: Server[] = [first];
    let ok = base + count - 1 <= 65_535;
    for (let i = 1; ok && i < count; i += 1) {
      const next = await listen(base + i);
      if (next === undefined) ok = false;
      else held.push(next);
    }
    await Promise.all(held.map(close));
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free loopback ports after ${attempts} attempts`);
}
