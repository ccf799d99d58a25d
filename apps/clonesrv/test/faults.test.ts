/** The Clone fault suite in `npm test`: 60 s of faults on a clonesrv pair (see fault-suite.ts). */
import { describe, it } from 'vitest';
import { runFaultSuite } from './fault-suite.js';

describe('clonesrv pair under faults', () => {
  it('ten clients converge on the active, nothing committed lost or resurrected, no sequence reused', async () => {
    await runFaultSuite(60_000, 18);
  }, 175_000);
});
