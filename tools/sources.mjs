/**
 * The source files of the workspaces and what they import, read with the TypeScript parser (so
 * `import type`, `export ... from` and `import('...')` all count, and comments never do).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/**
 * Every workspace under `packages/` and `apps/` (public or private), with its manifest.
 * @param {string} root the repository root
 * @returns {{ name: string, dir: string, group: string, folder: string, manifest: Record<string, any> }[]}
 */
export function workspaces(root) {
  const found = [];
  for (const group of ['packages', 'apps']) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const folder of readdirSync(base).sort()) {
      const file = join(base, folder, 'package.json');
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, 'utf8'));
      found.push({ name: manifest.name, dir: join(base, folder), group, folder, manifest });
    }
  }
  return found;
}

/**
 * The `.ts` files under a directory, recursively, sorted.
 * @param {string} dir
 * @returns {string[]} absolute paths
 */
export function tsFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/**
 * The module specifiers a TypeScript file imports or re-exports, type-only ones included, and
 * dynamic `import('...')` calls with a literal argument.
 * @param {string} file absolute path
 * @returns {{ specifier: string, line: number, typeOnly: boolean }[]}
 */
export function importsOf(file) {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found = [];
  const add = (/** @type {ts.Node} */ literal, /** @type {boolean} */ typeOnly) => {
    if (!ts.isStringLiteral(literal)) return;
    const line = source.getLineAndCharacterOfPosition(literal.getStart()).line + 1;
    found.push({ specifier: literal.text, line, typeOnly });
  };
  const visit = (/** @type {ts.Node} */ node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined) {
      add(node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg !== undefined) add(arg, false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/**
 * The npm package a bare specifier names (`@scope/name/sub` → `@scope/name`), or undefined for a
 * relative path or a `node:` builtin.
 * @param {string} specifier
 * @returns {string | undefined}
 */
export function packageOf(specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}
