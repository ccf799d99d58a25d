#!/usr/bin/env node
/**
 * zpat: the command line for people. Each pattern contributes its subcommands from
 * `commands/<pattern>.ts`; this file only assembles them.
 */
import { createProgram, envOptions, printDeprecations } from '@zpatterns/app-kit';
import { registerCloneCommands } from './commands/clone.js';
import { registerFreelanceCommands } from './commands/freelance.js';
import { registerKeygenCommands } from './commands/keygen.js';
import { registerMajordomoCommands } from './commands/majordomo.js';
import { registerPirateCommands } from './commands/pirate.js';
import { registerStoreCommands } from './commands/store.js';
import { registerTitanicCommands } from './commands/titanic.js';
import { groupCommand } from './options.js';
import { registerTopCommands } from './commands/top.js';

// With no command, the help goes to stderr and the exit code is 2, like any other usage error.
const program = groupCommand(
  createProgram('zpat', 'Talk to zpatterns services: call them, list them, run demo workers'),
);
registerFreelanceCommands(program);
registerMajordomoCommands(program);
registerPirateCommands(program);
registerTitanicCommands(program);
registerCloneCommands(program);
registerKeygenCommands(program);
registerStoreCommands(program);
registerTopCommands(program);

// Every flag of every subcommand also from ZPAT_<FLAG> (--broker: ZPAT_BROKER); the command line wins.
envOptions(program, 'ZPAT', true);
// Old flag names still work for one release, with a warning on stderr.
program.hook('preAction', () => printDeprecations('zpat'));

await program.parseAsync(process.argv);
