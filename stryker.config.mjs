// @ts-check
/**
 * Mutation testing: `npm run mutation` (all modules below; CPU-heavy, not part of CI), or one module
 * at a time: `npm run mutation -- --mutate packages/bstar/src/fsm.ts`. Scores: docs/testing.md.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: [
    // State machines, on an injected clock.
    'packages/bstar/src/fsm.ts',
    'packages/core/src/liveness.ts',
    'packages/core/src/heartbeat.ts',
    'packages/core/src/backoff.ts',
    'packages/core/src/expiry.ts',
    'packages/pirate/src/worker-pool.ts',
    'packages/majordomo/src/broker-worker.ts',
    // The stores' claim and lease logic.
    'packages/titanic/src/lease-*.ts',
    'packages/titanic/src/store.ts',
    // The history checkers.
    'packages/testkit/src/checkers/**/*.ts',
    '!**/*.test.ts',
  ],
  coverageAnalysis: 'perTest',
  concurrency: 1,
  timeoutMS: 10_000,
  reporters: ['clear-text', 'progress', 'html'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  tempDirName: '.stryker-tmp',
  ignorePatterns: ['dist', 'reports', '.turbo', '**/*.tsbuildinfo'],
  thresholds: { high: 90, low: 75, break: null },
};
