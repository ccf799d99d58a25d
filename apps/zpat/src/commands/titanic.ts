/** zpat subcommands for the Titanic pattern. */
import type { Command } from 'commander';

export function registerTitanicCommands(_program: Command): void {
  // Filled in by the Titanic issue.
}
