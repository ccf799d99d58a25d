/**
 * Tests run on source: every workspace package's exports map is turned into aliases that point at
 * `src/`, so `import { Channel } from '@zpatterns/core'` in a test loads `packages/core/src/index.ts`.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

interface PackageJson {
  name: string;
  exports?: Record<string, string | { default?: string }>;
}

function workspaceAliases(): { find: string; replacement: string }[] {
  const aliases: { find: string; replacement: string }[] = [];
  for (const group of ['packages', 'apps']) {
    const dir = resolve(group);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const pkgFile = join(dir, name, 'package.json');
      if (!existsSync(pkgFile)) continue;
      const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as PackageJson;
      for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
        const built = typeof target === 'string' ? target : target.default;
        if (built === undefined || !built.startsWith('./dist/')) continue;
        const source = built.replace(/^\.\/dist\//, './src/').replace(/\.js$/, '.ts');
        aliases.push({
          find: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`,
          replacement: join(dir, name, source),
        });
      }
    }
  }
  // Longest first, so '@zpatterns/core/internal' wins over '@zpatterns/core'.
  return aliases.sort((a, b) => b.find.length - a.find.length);
}

export default defineConfig({
  resolve: {
    alias: workspaceAliases().map(({ find, replacement }) => ({
      find: new RegExp(`^${find.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`),
      replacement,
    })),
  },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'apps/*/test/**/*.test.ts',
      'tools/test/**/*.test.ts',
    ],
    reporters: ['default', './tools/summary-reporter.ts'],
    // One throwaway PostgreSQL for the run (Titanic's PostgreSQL store); exports ZPATTERNS_PG_URL.
    globalSetup: ['./tools/postgres-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Process-level tests start daemons; two cores, so keep the parallelism modest.
    maxWorkers: 2,
    teardownTimeout: 10_000,
  },
});
