/**
 * Modules that each hold one idea, and one layout: no source file in packages/*\/src over 450
 * lines, no import cycle between source files (type-only imports count: they tie two modules'
 * designs together all the same), every test under `<workspace>/test/`, `./protocol` served by
 * `protocol.ts`, no `./internal` subpath that nothing outside its package imports, no subpath
 * whose module exports nothing. Each failure lists the files and what is wrong with them
 * (`node tools/source-shape.mjs` prints the same list).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importCycles, importGraph, sourceShape, subpathProblems } from '../source-shape.mjs';

const root = resolve(import.meta.dirname, '../..');
const shape = sourceShape(root);

describe('the shape of the source', () => {
  it('no source file in packages/*/src is over 450 lines', () => {
    expect(shape.long).toEqual([]);
  });

  it('no import cycle between source files of packages/*/src and apps/*/src', () => {
    expect(shape.cycles).toEqual([]);
  });

  it('every test lives in <workspace>/test/, none in src/', () => {
    expect(shape.tests).toEqual([]);
  });

  it('./protocol maps to dist/protocol.js; every ./internal is imported from outside; no subpath exports nothing', () => {
    expect(shape.subpaths).toEqual([]);
  });
});

describe('the checks themselves (on a small made-up repository)', () => {
  const fixture = mkdtempSync(join(tmpdir(), 'source-shape-'));
  afterAll(() => rmSync(fixture, { recursive: true, force: true }));
  const write = (path: string, text: string): void => {
    mkdirSync(dirname(join(fixture, path)), { recursive: true });
    writeFileSync(join(fixture, path), text);
  };
  write('packages/a/package.json', JSON.stringify({ name: '@x/a', exports: { './internal': './dist/internal.js' } }));
  write('packages/a/src/internal.ts', 'export {};\n');
  write('packages/a/src/one.ts', "import type { T } from './two.js';\nexport const one = 1 as unknown as T;\n");
  write('packages/a/src/two.ts', "import { three } from './three.js';\nexport type T = typeof three;\n");
  write('packages/a/src/three.ts', "export { one as three } from './one.js';\n");
  write('packages/a/src/alone.ts', "import { one } from './one.js';\nexport const alone = one;\n");
  write(
    'packages/b/package.json',
    JSON.stringify({
      name: '@x/b',
      exports: { './protocol': { types: './dist/wire.d.ts', default: './dist/wire.js' } },
    }),
  );
  write('packages/b/src/wire.ts', 'export const X = 1;\n');

  it('finds a cycle through a type-only import and a re-export, and prints its path', () => {
    expect(importCycles(importGraph(fixture))).toEqual([
      'import cycle: packages/a/src/one.ts -> packages/a/src/two.ts -> packages/a/src/three.ts -> packages/a/src/one.ts',
    ]);
  });

  it('finds an empty ./internal that nobody imports, and a ./protocol served by wire.js', () => {
    expect(subpathProblems(fixture)).toEqual([
      'packages/a/package.json: "./internal" is imported by nothing outside packages/a (drop the subpath)',
      'packages/a/package.json: "./internal" serves packages/a/src/internal.ts, which exports nothing',
      'packages/b/package.json: "./protocol" maps to ./dist/wire.js (types ./dist/wire.d.ts), not ./dist/protocol.js (types ./dist/protocol.d.ts)',
    ]);
  });
});
