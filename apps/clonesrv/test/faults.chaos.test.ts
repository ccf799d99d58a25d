/**
 * The long Clone history run, for `npm run chaos` only: `npm run chaos -- --seed N --minutes M`
 * (ZPATTERNS_CHAOS_SEED, ZPATTERNS_CHAOS_MINUTES; default a seed from the time, 10 minutes).
 */
import { describe, it } from 'vitest';
import { runCloneHistory } from './history-run.js';

const minutes = Number(process.env['ZPATTERNS_CHAOS_MINUTES'] ?? 10);
const seed = Number(process.env['ZPATTERNS_CHAOS_SEED'] ?? Date.now() % 1_000_000);
const durationMs = Math.round(minutes * 60_000);

describe('clonesrv pair under a nemesis, long run', () => {
  it(
    `the Clone checker passes after ${minutes} min of faults (seed ${seed})`,
    async () => {
      await runCloneHistory({ seed, durationMs });
    },
    durationMs + 180_000,
  );
});
