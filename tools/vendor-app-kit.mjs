#!/usr/bin/env node
/**
 * `@zpatterns/app-kit` is private (never published), so a daemon carries it inside its own
 * package: run from an app's folder after `tsc`, this copies app-kit's built JavaScript into the
 * app's `dist/app-kit/` and points the app's imports of `@zpatterns/app-kit` at that copy. The
 * app lists app-kit's own dependencies (pino, prom-client...) as its own, so they are installed
 * beside it.
 *
 *   "build": "tsc -p tsconfig.build.json && node ../../tools/vendor-app-kit.mjs"
 */
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import process from 'node:process';

const SPECIFIER = /(from\s*|import\s*\(\s*)(['"])@zpatterns\/app-kit\2/g;

/**
 * Copy app-kit's dist into `<app>/dist/app-kit/` and rewrite the app's imports of it.
 * @param {string} appDir the app's folder
 * @param {string} appKitDist app-kit's built dist folder
 * @returns {number} the files rewritten
 */
export function vendorAppKit(appDir, appKitDist) {
  const dist = join(appDir, 'dist');
  const target = join(dist, 'app-kit');
  if (!existsSync(join(appKitDist, 'index.js'))) {
    throw new Error(`${appKitDist}/index.js is missing: build @zpatterns/app-kit first`);
  }
  rmSync(target, { recursive: true, force: true });
  cpSync(appKitDist, target, {
    recursive: true,
    filter: (src) => !/\.(d\.ts|map|tsbuildinfo)$/.test(src) && !src.includes(`${sep}.api`),
  });
  let rewritten = 0;
  for (const entry of readdirSync(dist, { withFileTypes: true, recursive: true })) {
    const file = join(entry.parentPath, entry.name);
    if (!entry.isFile() || !entry.name.endsWith('.js') || file.startsWith(target + sep)) continue;
    const text = readFileSync(file, 'utf8');
    let path = relative(dirname(file), join(target, 'index.js')).split(sep).join('/');
    if (!path.startsWith('.')) path = `./${path}`;
    const next = text.replace(SPECIFIER, (_m, head, quote) => `${head}${quote}${path}${quote}`);
    if (next !== text) {
      writeFileSync(file, next);
      rewritten += 1;
    }
  }
  return rewritten;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const appDir = process.cwd();
  const appKitDist = resolve(import.meta.dirname, '../packages/app-kit/dist');
  vendorAppKit(appDir, appKitDist);
}
