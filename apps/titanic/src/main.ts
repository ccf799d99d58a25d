#!/usr/bin/env node
/**
 * titanic: the daemon (see `daemon.ts`), or one of the operator commands that work on the store
 * directly (see `store-admin.ts`):
 *
 *   node_modules/.bin/titanic --broker tcp://127.0.0.1:5555 --data-dir ./data/titanic   # the daemon
 *   node_modules/.bin/titanic pending --data-dir ./data/titanic                         # pending by service
 *   node_modules/.bin/titanic purge nobody --store postgres://titanic@db/titanic        # drop one service's
 */
import { STORE_COMMANDS } from './store-admin.js';

const command = process.argv[2];
if (command !== undefined && STORE_COMMANDS.includes(command)) {
  const { runStoreCommand } = await import('./store-admin.js');
  process.exitCode = await runStoreCommand(process.argv);
} else {
  await import('./daemon.js');
}
