/**
 * Library source constructs no plain `Error`, `RangeError`, `TypeError` or `SyntaxError`: every
 * error it creates is a `ZPatternsError` with a stable `code`. The one exception is core's
 * `toError()`, which wraps a non-error value your code threw. This reads the source only; errors
 * that come from below (zeromq, the OS) are caught at run time by error-classes-runtime.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { publicPackages } from '../workspaces.mjs';

const root = resolve(import.meta.dirname, '../..');
const PLAIN = /new (?:Range|Type|Syntax)?Error\(/g;
const ALLOWED = new Set(['packages/core/src/errors.ts:toError']);
// The status page's own script, which runs in the browser, not in the library.
const ALLOWED_FILES = new Set(['packages/app-kit/src/status-page.ts']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('library errors', () => {
  it('library code constructs no plain Error, RangeError or TypeError', () => {
    const found: string[] = [];
    for (const pkg of publicPackages(root).filter((p) => p.library)) {
      for (const file of sources(join(pkg.dir, 'src'))) {
        if (ALLOWED_FILES.has(relative(root, file))) continue;
        const text = readFileSync(file, 'utf8');
        for (const match of text.matchAll(PLAIN)) {
          const before = text.slice(0, match.index);
          const fn = [...before.matchAll(/function (\w+)/g)].at(-1)?.[1] ?? '';
          const where = `${relative(root, file)}:${fn}`;
          if (ALLOWED.has(where)) continue;
          const line = before.split('\n').length;
          found.push(`${relative(root, file)}:${line}: ${match[0]}`);
        }
      }
    }
    expect(found).toEqual([]);
  });
});
