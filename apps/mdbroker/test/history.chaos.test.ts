/**
 * The long Majordomo history run, for `npm run chaos -- --seed N --minutes M`:
 * the seed and the length come from ZPATTERNS_CHAOS_SEED and ZPATTERNS_CHAOS_MINUTES (default a
 * seed from the time, 5 minutes), every fault of the nemesis in a seeded random order. A
 * failing run names its seed and history file.
 */
import { describe, expect, it } from 'vitest';
import { runMajordomoHistory } from './history-run.js';

const seed = Number(process.env['ZPATTERNS_CHAOS_SEED'] ?? Date.now() % 1_000_000);
const minutes = Number(process.env['ZPATTERNS_CHAOS_MINUTES'] ?? 5);

describe('mdbroker: history under a seeded nemesis, long run (real processes)', () => {
  it(
    `seed ${seed}, ${minutes} min: idempotent requests answered, the others at most once`,
    async () => {
      const { result } = await runMajordomoHistory({ seed, durationMs: Math.round(minutes * 60_000) });
      console.info(`majordomo history, seed ${seed}: ${JSON.stringify(result.stats)}`);
      expect(result.stats?.['answered']).toBeGreaterThan(0);
    },
    minutes * 60_000 + 60_000,
  );
});
