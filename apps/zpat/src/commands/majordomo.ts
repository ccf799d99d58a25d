/** zpat subcommands for the Majordomo pattern. */
import type { Command } from 'commander';

export function registerMajordomoCommands(_program: Command): void {
  // Filled in by the Majordomo issue.
}
