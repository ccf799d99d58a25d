/**
 * The public surface of each library is reviewed: its API report (etc/<name>.api.md) must match
 * what the built types export. A change to a public signature fails here until
 * `npm run api:update` rewrites the report, so the change shows up in the diff. Every member in
 * a report is documented: API Extractor marks one without a doc comment `(undocumented)`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiReports } from '../api-report.mjs';

const etc = resolve(import.meta.dirname, '../../etc');

describe('API reports', () => {
  it('match the built public surface of every library', () => {
    const stale = apiReports({ update: false }).filter((r) => r.changed || !r.succeeded);
    expect(stale.map((r) => `${r.name}: ${r.report} is out of date; run npm run api:update`)).toEqual([]);
  }, 120_000);

  it('document every member: options, stats and status fields included', () => {
    const missing: string[] = [];
    for (const file of readdirSync(etc).filter((f) => f.endsWith('.api.md'))) {
      for (const line of readFileSync(join(etc, file), 'utf8').split('\n')) {
        const match = /\(ae-undocumented\) Missing documentation for "([^"]+)"/.exec(line);
        if (match !== null) missing.push(`${file}: ${match[1]} (${line.split(' - ')[0]?.replace('// ', '')})`);
      }
    }
    expect(missing).toEqual([]);
  });
});
