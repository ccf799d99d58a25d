/** The workspace packages, read from their package.json files. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Every workspace package that is published (not `private`).
 * @param {string} root the repository root
 * @returns {{ name: string, dir: string, folder: string, library: boolean, manifest: Record<string, unknown> }[]}
 *   `library`: it has a main entry, not only bins; `folder`: its folder name
 */
export function publicPackages(root) {
  const found = [];
  for (const group of ['packages', 'apps']) {
    for (const folder of readdirSync(join(root, group))) {
      const file = join(root, group, folder, 'package.json');
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, 'utf8'));
      if (manifest.private === true) continue;
      const library = manifest.exports?.['.'] !== undefined;
      found.push({ name: manifest.name, dir: join(root, group, folder), folder, library, manifest });
    }
  }
  return found;
}
