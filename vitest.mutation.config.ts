/**
 * The tests `npm run mutation` runs against each mutant: the unit tests that sit next to the
 * source (state machines, stores, checkers), on an injected clock, without processes or PostgreSQL.
 */
import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.ts';

export default mergeConfig(
  { ...base, test: { ...base.test, include: [], globalSetup: [], reporters: [] } },
  defineConfig({
    test: {
      include: ['packages/*/src/**/*.test.ts'],
      reporters: ['dot'],
    },
  }),
);
