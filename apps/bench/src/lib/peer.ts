/**
 * Benchmark peers run in their own processes (as in production), never in the driver's: the
 * driver starts them with `startPeer(script)`, a script in `src/peers/` or an app's bin, and waits
 * for a JSON line containing `"ready"` (a peer's own `{"ready":true,...}` or a daemon's
 * `{"msg":"ready",...}` log line).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { rssKb } from './stats.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Every peer process still running, so none outlives the benchmark (even when it is interrupted). */
const live = new Set<ChildProcess>();
const killAll = (): void => {
  for (const child of live) child.kill('SIGKILL');
};
process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}
const repoRoot = resolve(here, '../../../..');

/** Absolute path of a built peer script `apps/bench/dist/peers/<name>.js`. */
export function peerScript(name: string): string {
  return join(here, '..', 'peers', `${name}.js`);
}

/** Absolute path of a built app bin `apps/<name>/dist/main.js`. */
export function appScript(name: string): string {
  return join(repoRoot, 'apps', name, 'dist', 'main.js');
}

export class Peer {
  readonly #child: ChildProcess;
  readonly ready: Record<string, unknown>;
  readonly exited: Promise<void>;

  private constructor(child: ChildProcess, ready: Record<string, unknown>, exited: Promise<void>) {
    this.#child = child;
    this.ready = ready;
    this.exited = exited;
  }

  static async start(script: string, args: readonly string[] = [], timeoutMs = 15_000): Promise<Peer> {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    live.add(child);
    const exited = new Promise<void>((r) =>
      child.once('exit', () => {
        live.delete(child);
        r();
      }),
    );
    const ready = await new Promise<Record<string, unknown>>((resolveReady, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${script} not ready within ${timeoutMs} ms`));
      }, timeoutMs);
      child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before ready`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (!line.includes('"ready"')) return;
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (parsed['ready'] === true || parsed['msg'] === 'ready') {
            clearTimeout(timer);
            resolveReady(parsed);
          }
        } catch {
          // not JSON: ignore
        }
      });
    });
    child.stdout?.resume();
    return new Peer(child, ready, exited);
  }

  /** The first endpoint the peer announced (`endpoint` or `endpoints[0]`). */
  get endpoint(): string {
    const endpoints = this.ready['endpoints'];
    const endpoint = Array.isArray(endpoints) ? (endpoints[0] as unknown) : this.ready['endpoint'];
    if (typeof endpoint !== 'string') throw new Error('peer announced no endpoint');
    return endpoint;
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  rssKb(): Promise<number> {
    return rssKb(this.pid);
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Stop every peer, in parallel, ignoring failures. */
export async function stopAll(peers: readonly Peer[]): Promise<void> {
  await Promise.allSettled(peers.map((p) => p.stop()));
}
