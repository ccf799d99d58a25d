/**
 * Every exported symbol of every library is documented: TypeDoc runs over the public entries
 * (typedoc.json) with `validation.notDocumented`, `notExported` and `invalidLink`, and any warning
 * fails here. Nothing is written (`--emit none`); `npm run docs:api` builds the site.
 *
 * Reads each package's built dist of its dependencies, so build first (as `npm test` does).
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const typedoc = resolve(root, 'node_modules/typedoc/bin/typedoc');

describe('API reference', () => {
  it('documents every exported symbol of every library (typedoc validation, no warnings)', async () => {
    const result = await run(process.execPath, [typedoc, '--emit', 'none', '--logLevel', 'Warn'], {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    }).then(
      ({ stdout, stderr }) => ({ code: 0, output: `${stdout}${stderr}` }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({
        code: err.code ?? 1,
        output: `${err.stdout ?? ''}${err.stderr ?? ''}`,
      }),
    );
    // eslint-disable-next-line no-control-regex -- strip the colour codes TypeDoc writes
    const lines = result.output.replace(/\u001b\[[0-9;]*m/g, '').split('\n');
    const problems = lines.filter((l) => /\[(warning|error)\]/.test(l));
    expect(problems).toEqual([]);
    expect(result.code).toBe(0);
  }, 120_000);
});
