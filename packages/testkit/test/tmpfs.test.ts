/**
 * `mountSmallDisk`: a real tmpfs where we may mount one (root), and where we may not, a skip for a
 * developer and a failure under CI=true. "May not" is made by hiding `mount` from PATH.
 */
import { existsSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mountSmallDisk } from '../src/tmpfs.js';

const saved = { PATH: process.env['PATH'], CI: process.env['CI'] };
afterEach(() => {
  process.env['PATH'] = saved.PATH;
  if (saved.CI === undefined) delete process.env['CI'];
  else process.env['CI'] = saved.CI;
});

const isRoot = process.getuid?.() === 0;

describe('mountSmallDisk', () => {
  it.skipIf(!isRoot)('mounts a tmpfs of the size asked for, and unmount() removes it', () => {
    const disk = mountSmallDisk(2);
    expect(disk).toBeDefined();
    if (disk === undefined) return;
    try {
      const fs = statfsSync(disk.path);
      expect(fs.blocks * fs.bsize).toBe(2 * 1024 * 1024);
      expect(() => writeFileSync(join(disk.path, 'big'), Buffer.alloc(3 * 1024 * 1024))).toThrow(/ENOSPC/);
    } finally {
      disk.unmount();
      disk.unmount();
    }
    expect(existsSync(disk.path)).toBe(false);
  });

  it('without a way to mount: undefined (the caller skips) for a developer, an error under CI=true', () => {
    process.env['PATH'] = '/nonexistent';
    delete process.env['CI'];
    expect(mountSmallDisk(2)).toBeUndefined();
    process.env['CI'] = 'true';
    expect(() => mountSmallDisk(2)).toThrow(/cannot mount a tmpfs for the full-disk tests/);
  });
});
