/**
 * Consecutive free loopback ports, for protocols whose layout is "port P, P+1, P+2" (the Clone
 * server of 12/CHP) and so cannot bind `tcp://127.0.0.1:*` three times.
 *
 * The ports are found by binding them all at once with `net` and closing them again, so another
 * process can still take one before the caller binds it: callers that bind should go through
 * `onFreePortRange`, which retries with a fresh range when the bind fails with EADDRINUSE.
 */
import { createServer, type Server } from 'node:net';

export interface FreePortRangeOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** Ranges to try before giving up. @default 50 */
  attempts?: number;
}

function listen(port: number, host: string): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ port, host, exclusive: true }, () => resolve(server));
  });
}

function closeAll(servers: readonly Server[]): Promise<void> {
  return Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined);
}

/**
 * The first of `n` consecutive ports that were all free on `host` a moment ago: the kernel picks
 * the first (port 0), the next `n - 1` are bound to check, and a conflict starts over.
 */
export async function freePortRange(n: number, options: FreePortRangeOptions = {}): Promise<number> {
  const { host = '127.0.0.1', attempts = 50 } = options;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`freePortRange: n must be a positive integer, got ${n}`);
  for (let attempt = 0; attempt < attempts; attempt++) {
    const first = await listen(0, host);
    if (first === undefined) continue;
    const address = first.address();
    const base = typeof address === 'object' && address !== null ? address.port : 0;
    const held: Server[] = [first];
    let ok = base > 0 && base + n - 1 <= 65_535;
    for (let i = 1; ok && i < n; i++) {
      const next = await listen(base + i, host);
      if (next === undefined) ok = false;
      else held.push(next);
    }
    await closeAll(held);
    if (ok) return base;
  }
  throw new Error(`freePortRange: no ${n} consecutive free ports on ${host} after ${attempts} attempts`);
}

function isAddressInUse(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  return code === 'EADDRINUSE' || (typeof message === 'string' && /address already in use/i.test(message));
}

/**
 * Run `bind(base)` on a fresh range of `n` free ports, and again on another range whenever it
 * fails with EADDRINUSE (someone took a port between the check and the bind). Other errors pass
 * through. `bind` must release what it bound before throwing.
 */
export async function onFreePortRange<T>(
  n: number,
  bind: (base: number) => Promise<T>,
  options: FreePortRangeOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 50;
  let last: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const base = await freePortRange(n, options);
    try {
      return await bind(base);
    } catch (err) {
      if (!isAddressInUse(err)) throw err;
      last = err;
    }
  }
  throw new Error(`onFreePortRange: every range of ${n} ports was taken before it could be bound`, { cause: last });
}
