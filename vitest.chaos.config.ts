/** `npm run chaos`: only the long fault runs (`*.chaos.test.ts`), with the main config's aliases. */
import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['packages/*/test/**/*.chaos.test.ts', 'apps/*/test/**/*.chaos.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    reporters: ['default'],
  },
});
