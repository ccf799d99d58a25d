/**
 * Every `bin` of every app, run as a user runs it after `npm ci` + build: through the symlink npm
 * put in node_modules/.bin (what `npx --no-install <bin>` executes). New daemons are covered as
 * soon as their package.json names a bin.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const run = promisify(execFile);

function bins(): { app: string; bin: string }[] {
  const out: { app: string; bin: string }[] = [];
  for (const app of readdirSync(join(root, 'apps'))) {
    const file = join(root, 'apps', app, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { bin?: Record<string, string> | string };
    if (typeof pkg.bin === 'object') for (const bin of Object.keys(pkg.bin)) out.push({ app, bin });
  }
  return out;
}

describe('every bin runs from node_modules/.bin', () => {
  it('finds the bins', () => {
    expect(bins().map((b) => b.bin)).toEqual(expect.arrayContaining(['mdbroker', 'ppqueue', 'titanic', 'zpat']));
  });

  it.each(bins())('$bin --help (apps/$app) exits 0 with a usage line', async ({ bin }) => {
    const link = join(root, 'node_modules', '.bin', bin);
    expect(existsSync(link), `${link} missing: run npm ci`).toBe(true);
    const { stdout } = await run(link, ['--help'], { timeout: 20_000 });
    expect(stdout).toMatch(new RegExp(`^Usage: ${bin} `, 'm'));
  });

  it.each([
    { bin: 'mdbroker', services: true },
    { bin: 'titanic', services: false },
    { bin: 'ppqueue', services: false },
    { bin: 'bstarsrv', services: false },
    { bin: 'flserver', services: false },
    { bin: 'clonesrv', services: false },
  ])(
    '$bin --help: the shared options in one order (--metrics-services only with per-service labels), 80 columns',
    async ({ bin, services }) => {
      const { stdout } = await run(join(root, 'node_modules', '.bin', bin), ['--help'], { timeout: 20_000 });
      expect(stdout).toContain('--metrics-port <port>');
      expect(stdout).toContain('--shutdown-delay-ms <ms>');
      expect(stdout.includes('--metrics-services')).toBe(services);
      // Wrapped to 80 columns, and the shared options last, in one order in every daemon.
      for (const line of stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
      const flags = [...stdout.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]);
      const shared = flags.slice(flags.indexOf('--log-level'), flags.indexOf('--help'));
      expect(shared).toEqual([
        '--log-level',
        '--pretty',
        '--metrics-port',
        '--metrics-host',
        '--shutdown-delay-ms',
        ...(services ? ['--metrics-services'] : []),
        '--curve-secret-key-file',
        '--allow-keys',
        ...(bin === 'titanic' ? ['--curve-server-key'] : []),
        '--max-message-bytes',
      ]);
    },
  );
});
