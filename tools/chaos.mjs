#!/usr/bin/env node
/**
 * `npm run chaos`: the long fault runs (`*.chaos.test.ts`), after a build.
 *
 *   npm run chaos                          a seed from the time, each run's default length
 *   npm run chaos -- --seed 42 --minutes 5 replay seed 42 for 5 minutes
 *   npm run chaos -- --seed 42 apps/clonesrv   only the runs under a path (vitest filters)
 *
 * The seed and minutes reach the runs as ZPATTERNS_CHAOS_SEED and ZPATTERNS_CHAOS_MINUTES; every
 * other argument goes to vitest.
 */
import { spawnSync } from 'node:child_process';

const env = { ...process.env };
const rest = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  const [flag, inline] = arg.split('=', 2);
  if (flag === '--seed' || flag === '--minutes') {
    const value = inline ?? args[++i];
    if (value === undefined || !Number.isFinite(Number(value)) || Number(value) < 0) {
      console.error(`chaos: ${flag} needs a number`);
      process.exit(2);
    }
    env[flag === '--seed' ? 'ZPATTERNS_CHAOS_SEED' : 'ZPATTERNS_CHAOS_MINUTES'] = value;
  } else rest.push(arg);
}

const run = (command, commandArgs) => {
  const result = spawnSync(command, commandArgs, { stdio: 'inherit', env, shell: process.platform === 'win32' });
  if (result.status !== 0) process.exit(result.status ?? 1);
};
run('npm', ['run', 'build']);
run('npx', ['vitest', 'run', '--config', 'vitest.chaos.config.ts', ...rest]);
