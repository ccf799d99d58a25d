#!/usr/bin/env node
// The committed entry point that npm links into node_modules/.bin at `npm ci`, before dist/ exists.
// It runs the built program; build first (`npm run build`, which `npm start` and `npm test` do).
import { existsSync } from 'node:fs';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('clonesrv: not built yet; run `npm run build` at the repository root first\n');
  process.exit(1);
}
await import(main.href);
