/**
 * The options every daemon shares, added after its own and in the same order in every daemon's
 * `--help`: logging, metrics, CURVE, then the frame limit.
 *
 *   --log-level --pretty
 *   --metrics-port --metrics-host --shutdown-delay-ms [--metrics-services]
 *   --curve-secret-key-file --allow-keys [--curve-server-key]
 *   --max-message-bytes
 */
import type { Command } from 'commander';
import { logLevelOption, prettyOption } from './flags.js';
import { metricsOptions } from './metrics.js';
import { serverSecurityOptions } from './security.js';

/** Options of `addDaemonOptions(command, options)`. */
export interface DaemonOptionsConfig {
  /** Add `--metrics-services` (metrics with a per-service label). @default false */
  services?: boolean;
  /** Add `--curve-server-key` with this description (a daemon that also connects). */
  curveServerKey?: string;
}

/** Add the shared options to a daemon's command, in their one order. Call it after the daemon's own. */
export function addDaemonOptions(command: Command, config: DaemonOptionsConfig = {}): Command {
  command.addOption(logLevelOption()).addOption(prettyOption());
  for (const option of metricsOptions({ services: config.services === true })) command.addOption(option);
  return serverSecurityOptions(
    command,
    config.curveServerKey === undefined ? {} : { curveServerKey: config.curveServerKey },
  );
}
