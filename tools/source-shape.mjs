#!/usr/bin/env node
/**
 * The shape of the source, one problem per line: a module holds one idea (no file under
 * packages/*\/src over MAX_LINES lines), no import cycle between source files (packages/*\/src and
 * apps/*\/src, type-only imports included), every test in `<workspace>/test/`, `./protocol` served
 * by `dist/protocol.js`, no `./internal` subpath that nothing outside its package imports, and no
 * subpath whose module exports nothing.
 *
 *   node tools/source-shape.mjs    print the problems (exit 1 if any)
 *
 * tools/test/source-shape.test.ts runs the same checks.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { importsOf, tsFiles, workspaces } from './sources.mjs';

export const MAX_LINES = 450;

/**
 * Source files over MAX_LINES lines.
 * @param {string} root
 * @returns {string[]}
 */
export function longFiles(root) {
  const found = [];
  for (const ws of workspaces(root).filter((w) => w.group === 'packages')) {
    for (const file of tsFiles(join(ws.dir, 'src'))) {
      if (file.endsWith('.test.ts')) continue;
      const lines = readFileSync(file, 'utf8').replace(/\n$/, '').split('\n').length;
      if (lines > MAX_LINES) found.push(`${relative(root, file)}: ${lines} lines (at most ${MAX_LINES})`);
    }
  }
  return found;
}

/**
 * The relative-import graph of every source file in packages/*\/src and apps/*\/src.
 * @param {string} root
 * @returns {Map<string, string[]>} file (relative to root) → files it imports
 */
export function importGraph(root) {
  const graph = new Map();
  for (const ws of workspaces(root)) {
    for (const file of tsFiles(join(ws.dir, 'src'))) {
      if (file.endsWith('.test.ts')) continue;
      const targets = [];
      for (const { specifier } of importsOf(file)) {
        if (!specifier.startsWith('.')) continue;
        const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'));
        const candidates = [target, `${target}.ts`, join(target, 'index.ts')];
        const hit = candidates.find((c) => c.endsWith('.ts') && existsSync(c));
        if (hit !== undefined) targets.push(relative(root, hit));
      }
      graph.set(relative(root, file), [...new Set(targets)].sort());
    }
  }
  return graph;
}

/**
 * Every import cycle, once each, as the path `a.ts -> b.ts -> a.ts` (strongly connected
 * components of more than one file, or a file that imports itself; one shortest cycle per
 * component through its first file).
 * @param {Map<string, string[]>} graph
 * @returns {string[]}
 */
export function importCycles(graph) {
  // Tarjan's strongly connected components, iterative enough for a few hundred files.
  let index = 0;
  const indices = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const components = [];
  const strongConnect = (/** @type {string} */ v) => {
    indices.set(v, index);
    low.set(v, index);
    index += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        strongConnect(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), indices.get(w)));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      components.push(component);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!indices.has(v)) strongConnect(v);

  const cycles = [];
  for (const component of components) {
    const members = new Set(component);
    const start = [...component].sort()[0];
    if (component.length === 1 && !(graph.get(start) ?? []).includes(start)) continue;
    // Shortest way back to `start` inside the component (breadth first).
    const previous = new Map();
    const queue = [start];
    let found = false;
    while (queue.length > 0 && !found) {
      const v = queue.shift();
      for (const w of graph.get(v) ?? []) {
        if (!members.has(w)) continue;
        if (w === start) {
          previous.set(start, v);
          found = true;
          break;
        }
        if (!previous.has(w)) {
          previous.set(w, v);
          queue.push(w);
        }
      }
    }
    const path = [start];
    for (let v = previous.get(start); v !== start; v = previous.get(v)) path.unshift(v);
    path.unshift(start);
    const more = component.length > path.length - 1 ? ` (${component.length} files in this knot)` : '';
    cycles.push(`import cycle: ${path.join(' -> ')}${more}`);
  }
  return cycles.sort();
}

/**
 * Tests that are not under `<workspace>/test/`.
 * @param {string} root
 * @returns {string[]}
 */
export function misplacedTests(root) {
  const found = [];
  for (const ws of workspaces(root)) {
    for (const file of tsFiles(join(ws.dir, 'src'))) {
      if (file.endsWith('.test.ts')) {
        found.push(`${relative(root, file)}: a test under src/ (move it to ${relative(root, join(ws.dir, 'test'))}/)`);
      }
    }
  }
  return found;
}

/**
 * Does this module export nothing (only `export {}`, or no export at all)?
 * @param {string} file a .ts source file
 * @returns {boolean}
 */
export function exportsNothing(file) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement)) {
      const clause = statement.exportClause;
      if (clause === undefined || !ts.isNamedExports(clause) || clause.elements.length > 0) return false;
    } else if (ts.isExportAssignment(statement)) {
      return false;
    } else if (
      ts.canHaveModifiers(statement) &&
      (ts.getModifiers(statement) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
    ) {
      return false;
    }
  }
  return true;
}

/** @param {unknown} target an exports map entry @returns {string | undefined} */
function builtPath(target) {
  if (typeof target === 'string') return target;
  if (target !== null && typeof target === 'object') {
    const t = /** @type {Record<string, unknown>} */ (target);
    return typeof t['default'] === 'string' ? t['default'] : typeof t['import'] === 'string' ? t['import'] : undefined;
  }
  return undefined;
}

/** @param {string} dir @param {string} built `./dist/x.js` @returns {string} `<dir>/src/x.ts` */
function sourceOf(dir, built) {
  return join(dir, built.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'));
}

/**
 * Problems with the packages' `exports` maps: `./protocol` not served by `dist/protocol.js` (types
 * `dist/protocol.d.ts`), an `./internal` subpath that no file outside its package imports, a
 * subpath whose module exports nothing.
 * @param {string} root
 * @returns {string[]}
 */
export function subpathProblems(root) {
  const all = workspaces(root);
  /** importer files outside each package, per `@zpatterns/x/internal` specifier */
  const importers = new Map();
  const scanned = [
    ...all.flatMap((w) => [join(w.dir, 'src'), join(w.dir, 'test')].map((d) => ({ owner: w.dir, d }))),
    ...['examples/src', 'examples/test', 'deploy/test', 'tools'].map((d) => ({
      owner: join(root, d),
      d: join(root, d),
    })),
  ];
  for (const { owner, d } of scanned) {
    for (const file of tsFiles(d)) {
      for (const { specifier } of importsOf(file)) {
        if (!specifier.endsWith('/internal')) continue;
        const ws = all.find((w) => `${w.name}/internal` === specifier);
        if (ws === undefined || ws.dir === owner) continue;
        importers.set(specifier, [...(importers.get(specifier) ?? []), relative(root, file)]);
      }
    }
  }

  const found = [];
  for (const ws of all.filter((w) => w.group === 'packages')) {
    const exportsMap = ws.manifest.exports ?? {};
    const where = relative(root, join(ws.dir, 'package.json'));
    for (const [subpath, target] of Object.entries(exportsMap)) {
      if (subpath === './package.json') continue;
      const built = builtPath(target);
      const types = typeof target === 'object' && target !== null ? target.types : undefined;
      if (subpath === './protocol') {
        if (built !== './dist/protocol.js' || (types !== undefined && types !== './dist/protocol.d.ts')) {
          found.push(
            `${where}: "./protocol" maps to ${String(built)}${types === undefined ? '' : ` (types ${types})`}, not ./dist/protocol.js (types ./dist/protocol.d.ts)`,
          );
        }
      }
      if (subpath === './internal' && !importers.has(`${ws.name}/internal`)) {
        found.push(
          `${where}: "./internal" is imported by nothing outside ${relative(root, ws.dir)} (drop the subpath)`,
        );
      }
      if (built !== undefined && built.startsWith('./dist/')) {
        const source = sourceOf(ws.dir, built);
        if (existsSync(source) && exportsNothing(source)) {
          found.push(`${where}: "${subpath}" serves ${relative(root, source)}, which exports nothing`);
        }
      }
    }
  }
  return found;
}

/**
 * Every problem, one line each.
 * @param {string} root
 * @returns {{ long: string[], cycles: string[], tests: string[], subpaths: string[] }}
 */
export function sourceShape(root) {
  return {
    long: longFiles(root),
    cycles: importCycles(importGraph(root)),
    tests: misplacedTests(root),
    subpaths: subpathProblems(root),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const problems = Object.values(sourceShape(resolve(import.meta.dirname, '..'))).flat();
  for (const p of problems) console.log(p);
  process.exitCode = problems.length > 0 ? 1 : 0;
}
