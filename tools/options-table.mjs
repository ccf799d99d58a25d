#!/usr/bin/env node
/**
 * The option tables of the package READMEs, generated from the code: between
 *
 *   <!-- options:ClassName -->
 *   <!-- /options -->
 *
 * a README gets one row per member of `ClassNameOptions` (inherited members included): its name,
 * its default (the value in the package's exported `classNameDefaults` object when it has one,
 * else the member's `@default` tag, else "(required)" or "none") and its meaning (the first
 * sentence of the member's TSDoc). Read from the built `dist/` (types and defaults), so build first.
 *
 *   npm run docs:options    rewrite the tables (commit the READMEs)
 *
 * tools/test/options-table.test.ts fails when a README differs from what this writes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as prettier from 'prettier';
import ts from 'typescript';
import { publicPackages } from './workspaces.mjs';

const MARKER = /<!-- options:([A-Za-z0-9_]+) -->\n[\s\S]*?<!-- \/options -->/g;
const MiB = 1024 * 1024;

/**
 * A value of a `*Defaults` object as a table cell.
 * @param {unknown} value
 * @returns {string | undefined} undefined when the value says nothing to a reader (a function, an object)
 */
export function formatDefault(value) {
  if (typeof value === 'number') {
    const exact = value >= MiB && value % MiB === 0 ? ` (${value / MiB} MiB)` : '';
    return `\`${value}\`${exact}`;
  }
  if (typeof value === 'string') return `\`'${value}'\``;
  if (typeof value === 'boolean' || typeof value === 'bigint') return `\`${String(value)}\``;
  if (value === null) return '`null`';
  if (Array.isArray(value) && value.every((v) => ['string', 'number', 'boolean'].includes(typeof v))) {
    return `\`${JSON.stringify(value).replaceAll('"', "'")}\``;
  }
  return undefined;
}

/**
 * The first sentence of a doc comment, on one line, with `|` escaped for a table.
 * @param {string} text
 * @returns {string}
 */
export function firstSentence(text) {
  const paragraph = (text.split(/\n\s*\n/)[0] ?? '').replace(/\s+/g, ' ').trim();
  const guarded = paragraph.replace(/\b(e\.g|i\.e|etc|vs)\./g, (m) => m.replaceAll('.', '\u0000'));
  const match = /^(.*?[^\s.])\.(?:\s|$)/.exec(guarded);
  const sentence = (match === null ? guarded : `${match[1]}`).replaceAll('\u0000', '.');
  return sentence.replaceAll('|', '\\|');
}

/**
 * Every public library's options interfaces and defaults objects.
 * @param {string} root
 * @returns {Promise<{ classes: Map<string, { pkg: string, rows: { name: string, default: string, meaning: string }[] }> }>}
 */
export async function optionTables(root) {
  const libraries = publicPackages(root).filter((p) => p.library);
  const entries = libraries.map((p) => join(p.dir, 'dist', 'index.d.ts'));
  const program = ts.createProgram(entries, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const classes = new Map();
  for (const [i, lib] of libraries.entries()) {
    const entry = entries[i] ?? '';
    const built = /** @type {Record<string, unknown>} */ (
      await import(pathToFileURL(join(lib.dir, 'dist', 'index.js')).href)
    );
    const source = program.getSourceFile(entry);
    const moduleSymbol = source === undefined ? undefined : checker.getSymbolAtLocation(source);
    if (moduleSymbol === undefined) throw new Error(`${relative(root, entry)}: not built (run npx turbo run build)`);
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const name = exported.getName();
      if (!name.endsWith('Options') || name === 'Options') continue;
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      if ((symbol.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias)) === 0) continue;
      const className = name.slice(0, -'Options'.length);
      const defaultsName = `${className[0]?.toLowerCase() ?? ''}${className.slice(1)}Defaults`;
      const defaults = /** @type {Record<string, unknown>} */ (built[defaultsName] ?? {});
      const rows = [];
      for (const prop of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol))) {
        const member = prop.getName();
        const optional = (prop.flags & ts.SymbolFlags.Optional) !== 0;
        const tag = prop.getJsDocTags(checker).find((t) => t.name === 'default' || t.name === 'defaultValue');
        const tagText = tag === undefined ? undefined : ts.displayPartsToString(tag.text).replace(/\s+/g, ' ').trim();
        const fromCode = Object.hasOwn(defaults, member) ? formatDefault(defaults[member]) : undefined;
        const shown =
          fromCode ?? (tagText !== undefined && tagText !== '' ? tagText : optional ? 'none' : '(required)');
        const meaning = firstSentence(ts.displayPartsToString(prop.getDocumentationComment(checker)));
        rows.push({ name: `\`${member}\``, default: shown.replaceAll('|', '\\|'), meaning });
      }
      classes.set(className, { pkg: lib.name, rows });
    }
  }
  return { classes };
}

/**
 * A Markdown table of one class's options (not yet aligned: prettier aligns it).
 * @param {{ name: string, default: string, meaning: string }[]} rows
 * @returns {string}
 */
export function renderTable(rows) {
  const lines = ['| option | default | meaning |', '| --- | --- | --- |'];
  for (const r of rows) lines.push(`| ${r.name} | ${r.default} | ${r.meaning} |`);
  return lines.join('\n');
}

/**
 * The README text with every marked table regenerated (prettier-formatted, as the repo's
 * `prettier --check` wants it), and the markers that name no options type.
 * @param {string} text a README
 * @param {Awaited<ReturnType<typeof optionTables>>} tables
 * @param {string} file for prettier's config lookup
 * @returns {Promise<{ text: string, unknown: string[] }>}
 */
export async function regenerate(text, tables, file) {
  const unknown = [];
  const replaced = text.replace(MARKER, (_all, className) => {
    const found = tables.classes.get(className);
    if (found === undefined) {
      unknown.push(className);
      return `<!-- options:${className} -->\n<!-- /options -->`;
    }
    return `<!-- options:${className} -->\n\n${renderTable(found.rows)}\n\n<!-- /options -->`;
  });
  const config = (await prettier.resolveConfig(file)) ?? {};
  return { text: await prettier.format(replaced, { ...config, filepath: file }), unknown };
}

/**
 * The READMEs of the public libraries.
 * @param {string} root
 * @returns {string[]}
 */
export function readmes(root) {
  return publicPackages(root)
    .filter((p) => p.library)
    .map((p) => join(p.dir, 'README.md'));
}

/**
 * Check (or with `write`, rewrite) every README's marked tables.
 * @param {string} root
 * @param {{ write: boolean }} options
 * @returns {Promise<{ file: string, stale: boolean, unknown: string[], markers: number }[]>}
 */
export async function optionReadmes(root, { write }) {
  const tables = await optionTables(root);
  const results = [];
  for (const file of readmes(root)) {
    const before = readFileSync(file, 'utf8');
    const markers = [...before.matchAll(MARKER)].length;
    const { text, unknown } = await regenerate(before, tables, file);
    if (write && text !== before) writeFileSync(file, text);
    results.push({ file: relative(root, file), stale: text !== before, unknown, markers });
  }
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = resolve(import.meta.dirname, '..');
  for (const r of await optionReadmes(root, { write: true })) {
    if (r.markers === 0) continue;
    const unknown = r.unknown.map((c) => `\n  no ${c}Options is exported: fix the marker`).join('');
    console.log(`${r.file}: ${r.markers} table(s) ${r.stale ? 'updated' : 'unchanged'}${unknown}`);
    if (r.unknown.length > 0) process.exitCode = 1;
  }
}
