export { runDaemon } from './daemon.js';
export { addDaemonOptions } from './daemon-options.js';
export {
  bindEndpointFlag,
  checkEndpoint,
  connectEndpointFlag,
  ENDPOINT_SCHEMES,
  hostFlag,
  MAX_IPC_PATH_BYTES,
  peerListOption,
  portFlag,
  splitPeerList,
} from './endpoints.js';
export {
  describeStartupFailure,
  prepareDataDir,
  reportStartupFailure,
  startupFailureLine,
  StartupError,
} from './startup.js';
export { commandPath, EXIT_FAILURE, EXIT_USAGE, exitUsage, oneLine, usageLine, usageMessage } from './usage.js';
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
  isLoopbackEndpoint,
  pairCurve,
  serverSecurityFromFlags,
  serverSecurityOptions,
  warnPlainBinds,
  watchServerSecurity,
} from './security.js';
export {
  boundedLabels,
  checkMetricsPort,
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
export type { DaemonOptionsConfig } from './daemon-options.js';
export type { EndpointUse, PeerListOptions } from './endpoints.js';
export type { ReportStartupOptions, StartupErrorCode, StartupFailure } from './startup.js';
export type { DaemonHandle, DaemonStarted, RunDaemonOptions } from './daemon.js';
export type { LogLevel, RootLoggerOptions } from './logging.js';
export type { ClientSecurityFlags, DaemonSecurity, ServerSecurityFlags } from './security.js';
export type { MetricsFlags, MetricsServerOptions, ServeMetricsOptions } from './metrics.js';
export type { StatusHeader, StatusSource } from './status.js';
export type { PairView } from './pair-metrics.js';
