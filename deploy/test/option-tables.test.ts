/**
 * Each daemon's flags are documented in one place, the table in its package README
 * (apps/<daemon>/README.md); pages link there. This keeps that table and `--help` in step: every
 * flag `--help` shows is in the README, and every flag the README's tables list is one `--help`
 * shows (old names, hidden from `--help`, must not be documented as current).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appBin, runCli } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Long flags of a `--help` text, in their option column. */
function helpFlags(help: string): string[] {
  const flags = new Set<string>();
  for (const line of help.split('\n')) {
    const m = /^\s{2}(?:-\w, )?(--[a-z][a-z0-9-]*)/.exec(line);
    if (m?.[1] !== undefined && m[1] !== '--help' && m[1] !== '--version') flags.add(m[1]);
  }
  return [...flags];
}

/** Flags in the first column of the README's tables. */
function tableFlags(readme: string): string[] {
  const flags = new Set<string>();
  for (const line of readme.split('\n')) {
    const first = /^\|([^|]*)\|/.exec(line)?.[1] ?? '';
    for (const m of first.matchAll(/`(--[a-z][a-z0-9-]*)/g)) if (m[1] !== undefined) flags.add(m[1]);
  }
  return [...flags];
}

describe.each(['mdbroker', 'titanic', 'ppqueue', 'bstarsrv', 'flserver', 'clonesrv'])('%s', (daemon) => {
  const readme = readFileSync(join(root, 'apps', daemon, 'README.md'), 'utf8');

  it('README documents every flag of --help, and its tables list no flag --help lacks', async () => {
    const { code, stdout } = await runCli(appBin(daemon), ['--help']);
    expect(code).toBe(0);
    const shown = helpFlags(stdout);
    expect(shown.length).toBeGreaterThan(5);
    const undocumented = shown.filter((flag) => !new RegExp(`\`${flag}(?![a-z0-9-])`).test(readme));
    expect(undocumented, `apps/${daemon}/README.md does not mention these flags`).toEqual([]);
    const unknown = tableFlags(readme).filter((flag) => !shown.includes(flag));
    expect(unknown, `apps/${daemon}/README.md lists flags --help does not show`).toEqual([]);
  });
});
