/** zpat subcommands for the Pirate pattern. */
import type { Command } from 'commander';

export function registerPirateCommands(_program: Command): void {
  // Filled in by the Pirate issue.
}
