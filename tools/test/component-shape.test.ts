/**
 * The one shape, checked on what the packages export: every long-lived class (anything with a
 * `close()`) extends core's `Component`, takes one options object, and exposes `stats` only as a
 * getter that returns a snapshot, never as a live field. `Channel` is the socket wrapper these
 * objects are built from; it adopts a socket its owner already opened, so it has no `start()`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { publicPackages } from '../workspaces.mjs';

const root = resolve(import.meta.dirname, '../..');
const NOT_COMPONENTS = new Set(['@zpatterns/core:Channel', '@zpatterns/core:Component']);

type Exported = { where: string; value: unknown };

async function exportedClasses(): Promise<Exported[]> {
  const found: Exported[] = [];
  for (const pkg of publicPackages(root).filter((p) => p.library)) {
    const module = (await import(pkg.name)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(module)) {
      if (typeof value === 'function' && value.prototype !== undefined)
        found.push({ where: `${pkg.name}:${name}`, value });
    }
  }
  return found;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('the shape of every long-lived object', () => {
  it('every exported class with close() extends Component and takes one options object', async () => {
    const { Component } = await import('@zpatterns/core');
    const wrong: string[] = [];
    let components = 0;
    for (const { where, value } of await exportedClasses()) {
      const cls = value as { prototype: object; length: number };
      const closes = typeof (cls.prototype as { close?: unknown }).close === 'function';
      if (!closes || NOT_COMPONENTS.has(where)) continue;
      if (!Object.prototype.isPrototypeOf.call(Component.prototype, cls.prototype)) {
        wrong.push(`${where}: has close() but does not extend Component`);
        continue;
      }
      components += 1;
      if (cls.length > 1) wrong.push(`${where}: constructor takes ${cls.length} arguments, not one options object`);
    }
    expect(wrong).toEqual([]);
    expect(components).toBeGreaterThan(15);
  });

  it('no class exposes stats as a live field: stats is a getter returning a snapshot', () => {
    const found: string[] = [];
    for (const pkg of publicPackages(root).filter((p) => p.library)) {
      for (const file of sources(join(pkg.dir, 'src'))) {
        const lines = readFileSync(file, 'utf8').split('\n');
        lines.forEach((line, i) => {
          if (/^\s+(?:public\s+)?(?:readonly\s+)?stats\s*(?::[^=,;]+)?=\s/.test(line)) {
            found.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
          }
        });
      }
    }
    expect(found).toEqual([]);
  });
});
