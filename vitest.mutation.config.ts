/**
 * The tests `npm run mutation` runs against each mutant: the unit tests of the mutated modules
 * (state machines, leases, checkers), on an injected clock, without processes or PostgreSQL.
 */
import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'packages/bstar/test/fsm.test.ts',
      'packages/core/test/{liveness,heartbeat,backoff,structures}.test.ts',
      'packages/pirate/test/worker-pool.test.ts',
      'packages/majordomo/test/broker-worker.test.ts',
      'packages/titanic/test/{lease,lease-keeper,store}.test.ts',
      'packages/testkit/test/{history,checkers-*}.test.ts',
    ],
    globalSetup: [],
    reporters: ['dot'],
  },
});
