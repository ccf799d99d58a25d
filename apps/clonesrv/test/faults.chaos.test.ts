/**
 * The long Clone fault suite, for `npm run chaos` only: the same faults as faults.test.ts for
 * `CLONE_CHAOS_MS` (default 10 minutes), on a seed from `CLONE_CHAOS_SEED` (default: the time).
 */
import { describe, it } from 'vitest';
import { runFaultSuite } from './fault-suite.js';

const durationMs = Number(process.env['CLONE_CHAOS_MS'] ?? 600_000);
const seed = Number(process.env['CLONE_CHAOS_SEED'] ?? Date.now() % 1_000_000);

describe('clonesrv pair under faults, long run', () => {
  it(
    `ten clients converge after ${durationMs} ms of faults (seed ${seed})`,
    async () => {
      console.log(`clone chaos seed ${seed}`);
      await runFaultSuite(durationMs, seed);
    },
    durationMs + 120_000,
  );
});
