/**
 * The option tables of the package READMEs are generated from the code (`npm run docs:options`,
 * tools/options-table.mjs): the defaults from each package's exported `*Defaults` object, the
 * meanings from the options' TSDoc. A README whose table differs from what the tool writes fails
 * here, so a changed default or a renamed option cannot leave a stale table behind. Reads
 * `dist/`, so build first.
 */
import { describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import { firstSentence, formatDefault, optionReadmes, regenerate, renderTable } from '../options-table.mjs';

const root = resolve(import.meta.dirname, '../..');

describe('README option tables', () => {
  it('are what npm run docs:options generates from the code', async () => {
    const results = await optionReadmes(root, { write: false });
    const wrong = results.flatMap((r) => [
      ...(r.stale ? [`${r.file}: an option table differs from the code; run npm run docs:options`] : []),
      ...r.unknown.map((c) => `${r.file}: <!-- options:${c} --> names no exported ${c}Options`),
    ]);
    expect(wrong).toEqual([]);
    // The tables are there: every library has at least one.
    expect(results.filter((r) => r.markers > 0).length).toBeGreaterThanOrEqual(7);
  }, 60_000);

  it('rewrites a stale table, and reports a marker that names no options type', async () => {
    const tables = {
      classes: new Map([['Thing', { pkg: '@x/thing', rows: [{ name: '`a`', default: '`1`', meaning: 'the a' }] }]]),
    };
    const stale =
      '# x\n\n<!-- options:Thing -->\n\n| option | default | meaning |\n| --- | --- | --- |\n| `a` | `2` | the a |\n\n<!-- /options -->\n';
    const fresh = await regenerate(stale, tables, join(root, 'README.md'));
    expect(fresh.text).not.toBe(stale);
    expect(fresh.text).toContain('| `a`    | `1`     | the a   |');
    expect((await regenerate(fresh.text, tables, join(root, 'README.md'))).text).toBe(fresh.text);
    const unknown = await regenerate('<!-- options:Nope -->\n<!-- /options -->\n', tables, join(root, 'README.md'));
    expect(unknown.unknown).toEqual(['Nope']);
  });

  it('formats defaults, sentences and rows as a reader expects', () => {
    expect(formatDefault(2500)).toBe('`2500`');
    expect(formatDefault(16 * 1024 * 1024)).toBe('`16777216` (16 MiB)');
    expect(formatDefault('0.1')).toBe("`'0.1'`");
    expect(formatDefault([''])).toBe("`['']`");
    expect(formatDefault(() => 1)).toBeUndefined();
    expect(firstSentence('Bytes per message, e.g. `a|b`. The rest.\n\nMore.')).toBe('Bytes per message, e.g. `a\\|b`');
    expect(renderTable([{ name: '`x`', default: '`1`', meaning: 'the x' }])).toBe(
      '| option | default | meaning |\n| --- | --- | --- |\n| `x` | `1` | the x |',
    );
  });
});
