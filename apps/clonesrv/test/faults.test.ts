/**
 * The Clone history run in `npm test`: a short fixed seed on a clonesrv pair, every fault kind
 * once, split brains with writes on both sides included (see history-run.ts).
 */
import { describe, it } from 'vitest';
import { runCloneHistory } from './history-run.js';

describe('clonesrv pair under a nemesis', () => {
  it('every replica ends right, nothing acknowledged lost, reads monotonic, no sequence reused', async () => {
    await runCloneHistory({
      seed: 18,
      durationMs: 50_000,
      first: ['split brain', 'kill active', 'pause active', 'replication one way'],
    });
  }, 150_000);
});
