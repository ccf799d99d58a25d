export { runDaemon } from './daemon.js';
export {
  addFlagAliases,
  collect,
  configureCommand,
  createProgram,
  defaultDataDir,
  deprecationMessage,
  endpointFlag,
  envName,
  envOptions,
  EXIT_FAILURE,
  EXIT_USAGE,
  intFlag,
  logDeprecations,
  logLevelOption,
  printDeprecations,
  prettyOption,
} from './flags.js';
export { createRootLogger, LOG_LEVELS } from './logging.js';
export {
  clientSecurityFromFlags,
  clientSecurityOptions,
  exitUsage,
  isLoopbackEndpoint,
  pairCurve,
  serverSecurityFromFlags,
  serverSecurityOptions,
  warnPlainBinds,
  watchServerSecurity,
} from './security.js';
export {
  boundedLabels,
  createRegistry,
  gaugesOf,
  metricsOptions,
  serveMetrics,
  MetricsServer,
  statsCounters,
} from './metrics.js';
export { RateMeter, STATUS_VERSION, statusSource } from './status.js';
export { pairMetrics } from './pair-metrics.js';
// The metric classes, so that daemons need no direct dependency on prom-client.
export { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type { DeprecatedFlagUse, FlagAlias } from './flags.js';
export type { DaemonHandle, DaemonStarted, RunDaemonOptions } from './daemon.js';
export type { LogLevel, RootLoggerOptions } from './logging.js';
export type { ClientSecurityFlags, DaemonSecurity, ServerSecurityFlags } from './security.js';
export type { MetricsFlags, MetricsServerOptions, ServeMetricsOptions } from './metrics.js';
export type { StatusHeader, StatusSource } from './status.js';
export type { PairView } from './pair-metrics.js';
