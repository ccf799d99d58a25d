/**
 * `startPostgres`: a cluster does not outlive the process that started it. A child process starts
 * one and is killed with SIGKILL (no teardown runs); the cluster's watcher stops it and removes its
 * dir. Runs where the PostgreSQL tests run (see `postgresUrl()`).
 */
import { spawnSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { postgresUrl } from '../src/postgres.js';
import { eventually } from '../src/wait.js';

const built = fileURLToPath(new URL('../dist/postgres.js', import.meta.url));

describe('startPostgres', () => {
  it.skipIf(postgresUrl() === undefined)(
    'stops the cluster and removes its dir when the process that started it is killed',
    async () => {
      const child = spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { startPostgres } = await import(${JSON.stringify(built)});
           const cluster = await startPostgres();
           console.log(cluster.dir);
           setInterval(() => undefined, 60_000);`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const lines = createInterface({ input: child.stdout });
      const dir = await new Promise<string>((resolve, reject) => {
        lines.once('line', resolve);
        child.once('exit', (code) => reject(new Error(`the child exited (${code}) before its cluster started`)));
      });
      lines.close();
      expect(existsSync(`${dir}/data/postmaster.pid`)).toBe(true);
      child.kill('SIGKILL');
      await eventually(() => !existsSync(dir), { what: 'the cluster stopped and its dir removed', timeoutMs: 30_000 });
      // stopped, not only removed: no process runs on that data directory
      expect(spawnSync('pgrep', ['-f', `${dir}/data`]).status).toBe(1);
    },
    60_000,
  );
});
