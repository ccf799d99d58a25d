#!/usr/bin/env node
/**
 * zpat: the command line for people. Each pattern contributes its subcommands from
 * `commands/<pattern>.ts`; this file only assembles them.
 */
import { createProgram } from '@zpatterns/app-kit';
import { registerCloneCommands } from './commands/clone.js';
import { registerFreelanceCommands } from './commands/freelance.js';
import { registerKeygenCommands } from './commands/keygen.js';
import { registerMajordomoCommands } from './commands/majordomo.js';
import { registerPirateCommands } from './commands/pirate.js';
import { registerStoreCommands } from './commands/store.js';
import { registerTitanicCommands } from './commands/titanic.js';

const program = createProgram('zpat', 'Talk to zpatterns services: call them, list them, run demo workers');
registerFreelanceCommands(program);
registerMajordomoCommands(program);
registerPirateCommands(program);
registerTitanicCommands(program);
registerCloneCommands(program);
registerKeygenCommands(program);
registerStoreCommands(program);

await program.parseAsync(process.argv);
