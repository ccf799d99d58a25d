/**
 * A small file system of a test's own, to fill up: a tmpfs of `sizeMb`, mounted on a fresh temp
 * dir. Only root can mount one. For a developer without it the test is skipped (the caller skips
 * on `undefined`); under `CI=true` a tmpfs that cannot be mounted is a failure, never a skip.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A mounted tmpfs: its mount point, and `unmount()` (idempotent), which also removes the dir. */
export interface SmallDisk {
  readonly path: string;
  unmount(): void;
}

/**
 * Mount a tmpfs of `sizeMb` megabytes on a new temp dir. Returns undefined when it cannot be
 * mounted (not root, no `mount`), except under `CI=true`, where that throws.
 */
export function mountSmallDisk(sizeMb = 2): SmallDisk | undefined {
  const path = mkdtempSync(join(tmpdir(), 'zp-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0700`, 'tmpfs', path], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (err) {
    rmSync(path, { recursive: true, force: true });
    if (process.env['CI'] === 'true') {
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`cannot mount a tmpfs for the full-disk tests (CI runs them as root): ${why}`);
    }
    return undefined;
  }
  let mounted = true;
  return {
    path,
    unmount() {
      if (!mounted) return;
      mounted = false;
      execFileSync('umount', [path]);
      rmSync(path, { recursive: true, force: true });
    },
  };
}
