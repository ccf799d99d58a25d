/**
 * The tests `npm run mutation` runs against each mutant: the unit tests that sit next to the
 * source (state machines, stores, checkers), on an injected clock, without processes or PostgreSQL.
 */
import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['packages/*/src/**/*.test.ts'],
    globalSetup: [],
    reporters: ['dot'],
  },
});
