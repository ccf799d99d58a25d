export { runDaemon } from './daemon.js';
export {
  collect,
  configureCommand,
  createProgram,
  endpointFlag,
  EXIT_FAILURE,
  EXIT_USAGE,
  intFlag,
  logLevelOption,
  prettyOption,
} from './flags.js';
export { createRootLogger, LOG_LEVELS } from './logging.js';
export {
  clientSecurityFromFlags,
  clientSecurityOptions,
  exitUsage,
  serverSecurityFromFlags,
  serverSecurityOptions,
  watchServerSecurity,
} from './security.js';

export type { DaemonHandle, RunDaemonOptions } from './daemon.js';
export type { LogLevel, RootLoggerOptions } from './logging.js';
export type { ClientSecurityFlags, DaemonSecurity, ServerSecurityFlags } from './security.js';
