/**
 * The public surface of each library is reviewed: its API report (etc/<name>.api.md) must match
 * what the built types export. A change to a public signature fails here until
 * `npm run api:update` rewrites the report, so the change shows up in the diff.
 */
import { describe, expect, it } from 'vitest';
import { apiReports } from '../api-report.mjs';

describe('API reports', () => {
  it('match the built public surface of every library', () => {
    const stale = apiReports({ update: false }).filter((r) => r.changed || !r.succeeded);
    expect(stale.map((r) => `${r.name}: ${r.report} is out of date; run npm run api:update`)).toEqual([]);
  }, 120_000);
});
