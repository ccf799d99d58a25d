/**
 * A package.json says what its source needs, no more and no less: every entry of a package's,
 * app's or the examples' `dependencies` is imported by its `src/` (or is on the short list below
 * of what is loaded by name at run time, with the reason), and every package its `src/` imports
 * is in `dependencies` or `peerDependencies`. A dependency nothing imports is weight every
 * installer carries (a native one is worse); a missing one works here only because the monorepo
 * hoists it.
 */
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importsOf, packageOf, tsFiles, workspaces } from '../sources.mjs';

const root = resolve(import.meta.dirname, '../..');

/**
 * Loaded by name at run time, never imported: `<workspace name>:<dependency>` → why it must be
 * installed (e.g. a store driver a library loads with `import()` only when it is chosen).
 */
const LOADED_BY_NAME: Record<string, string> = {
  '@zpatterns/clonesrv:better-sqlite3': '@zpatterns/clone loads it for --data-dir (an optional peer of the library)',
  '@zpatterns/titanic-app:better-sqlite3':
    '@zpatterns/titanic loads it for the SQLite store (an optional peer of the library)',
  '@zpatterns/titanic-app:pg':
    '@zpatterns/titanic loads it for --store postgres://... (an optional peer of the library)',
};

/** Imported but provided by the host, not installed: `<workspace name>:<package>` → why. */
const PROVIDED: Record<string, string> = {
  '@zpatterns/testkit:vitest': "the private test kit runs inside the repository's vitest (a root devDependency)",
};

const builtins = new Set(builtinModules);
const APP_KIT = '@zpatterns/app-kit';

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
}

/**
 * A daemon carries the private app-kit in its dist (tools/vendor-app-kit.mjs, run by its build):
 * app-kit is then a devDependency (built first, never installed), and what app-kit imports is
 * the daemon's own dependency.
 */
function vendorsAppKit(manifest: Manifest): boolean {
  return manifest.scripts?.['build']?.includes('vendor-app-kit.mjs') === true;
}

function checked(): { name: string; dir: string; manifest: Manifest }[] {
  const list = workspaces(root).map((w) => ({ name: w.name, dir: w.dir, manifest: w.manifest as Manifest }));
  const examples = join(root, 'examples');
  list.push({ name: '@zpatterns/examples', dir: examples, manifest: workspaceManifest(examples) });
  return list;
}

function workspaceManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
}

/** The packages a workspace's src imports, with the first place each is imported from. */
function importedBy(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of tsFiles(join(dir, 'src'))) {
    if (file.endsWith('.test.ts')) continue;
    for (const { specifier, line } of importsOf(file)) {
      const name = packageOf(specifier);
      if (name === undefined || builtins.has(name)) continue;
      if (!found.has(name)) found.set(name, `${relative(root, file)}:${line}`);
    }
  }
  return found;
}

/** What a workspace's shipped code imports: its src, and for a daemon that carries app-kit, app-kit's src. */
function shippedImports(ws: { dir: string; manifest: Manifest }): Map<string, string> {
  const found = importedBy(ws.dir);
  if (vendorsAppKit(ws.manifest) && found.delete(APP_KIT)) {
    for (const [name, where] of importedBy(join(root, 'packages/app-kit'))) {
      if (!found.has(name)) found.set(name, `${where} (app-kit, carried in dist/app-kit)`);
    }
  }
  return found;
}

describe('dependencies', () => {
  const all = checked();

  it('every dependency is imported by src (or is loaded by name, with a reason)', () => {
    const unused: string[] = [];
    for (const ws of all) {
      const imported = shippedImports(ws);
      for (const dep of Object.keys(ws.manifest.dependencies ?? {})) {
        if (imported.has(dep) || LOADED_BY_NAME[`${ws.name}:${dep}`] !== undefined) continue;
        unused.push(`${ws.name}: "${dep}" is in dependencies but nothing in ${relative(root, ws.dir)}/src imports it`);
      }
    }
    expect(unused).toEqual([]);
  });

  it('every package src imports is in dependencies or peerDependencies', () => {
    const missing: string[] = [];
    for (const ws of all) {
      const declared = new Set([
        ...Object.keys(ws.manifest.dependencies ?? {}),
        ...Object.keys(ws.manifest.peerDependencies ?? {}),
      ]);
      for (const [dep, where] of shippedImports(ws)) {
        if (dep === ws.name || declared.has(dep) || PROVIDED[`${ws.name}:${dep}`] !== undefined) continue;
        missing.push(`${ws.name}: ${where} imports "${dep}", which is not in dependencies or peerDependencies`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('a daemon that carries app-kit does not depend on it (it is never published) but builds after it', () => {
    const wrong: string[] = [];
    for (const ws of all.filter((w) => vendorsAppKit(w.manifest))) {
      if (ws.manifest.dependencies?.[APP_KIT] !== undefined) wrong.push(`${ws.name}: ${APP_KIT} in dependencies`);
      if (ws.manifest.devDependencies?.[APP_KIT] === undefined)
        wrong.push(`${ws.name}: ${APP_KIT} not in devDependencies`);
    }
    expect(wrong).toEqual([]);
  });

  it('the allow-list names only dependencies that exist and are not imported', () => {
    const stale: string[] = [];
    for (const key of Object.keys(LOADED_BY_NAME)) {
      const [name, dep] = [key.slice(0, key.lastIndexOf(':')), key.slice(key.lastIndexOf(':') + 1)];
      const ws = all.find((w) => w.name === name);
      if (ws === undefined || ws.manifest.dependencies?.[dep] === undefined) stale.push(`${key}: not a dependency`);
      else if (importedBy(ws.dir).has(dep)) stale.push(`${key}: imported after all, drop it from the list`);
    }
    expect(stale).toEqual([]);
  });
});
