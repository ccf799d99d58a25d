export { curveFixture } from './curve.js';
export { useDisposables } from './disposables.js';
export { appBin, Daemon, runCli } from './daemon.js';
export { expectCleanHealthShutdown, healthThroughShutdown, probe } from './health.js';
export { inprocEndpoint, ipcEndpoint, LOOPBACK_ANY } from '@zpatterns/core';
export { bindEndpoint } from '@zpatterns/core/internal';
export { rawDealer, RawPeer, rawRequest, rawRouter, randomMessage, seededRandom } from './peers.js';
export { freePortRange, onFreePortRange } from './ports.js';
export { postgresUrl, startPostgres } from './postgres.js';
export { usePostgres } from './use-postgres.js';
export { expectClosesOnce } from './lifecycle.js';
export { startTcpProxy } from './tcp-proxy.js';
export { mountSmallDisk } from './tmpfs.js';
export { rssBytes, sendAndExpectDrop } from './untrusted.js';
export { fuzz, fuzzMessage } from './fuzz.js';
export { FUZZ_MAX_MESSAGE_BYTES, fuzzDaemon } from './daemon-fuzz.js';
export { startTarget } from './targets.js';
export { eventually } from './wait.js';
export { statusSchema, validateSchema } from './status-schema.js';
export {
  combineFaults,
  faultWindows,
  killFault,
  lastHeal,
  nemesisSchedule,
  partitionFault,
  pauseFault,
  runNemesis,
} from './nemesis.js';
export {
  checkConvergence,
  checkFinalState,
  checkMonotonicReads,
  checkNoLostWrites,
  checkSequences,
  cloneChecker,
} from './checkers/clone.js';
export { assertHistory, defaultHistoryDir, History, pairOps } from './history.js';

export type { Fault, FaultKind, FaultWindow, RunNemesisOptions, ScheduledFault, ScheduleOptions } from './nemesis.js';
export type { CloneCheckOptions } from './checkers/clone.js';
export type { Checker, CheckResult, Op, OpType, PendingOp } from './history.js';
export type { DaemonOptions, ExitStatus, LogLine } from './daemon.js';
export type { FuzzOptions, FuzzReport } from './fuzz.js';
export type { DaemonFuzzResult, MemoryFigures } from './daemon-fuzz.js';
export type { DaemonName, Target, TargetSocket } from './targets.js';
export type { CurveFixture, CurvePeer } from './curve.js';
export type { Closable, Disposables } from './disposables.js';
export type { FreePortRangeOptions } from './ports.js';
export type { HealthThroughShutdown, Probe } from './health.js';
export type { PostgresCluster } from './postgres.js';
export type { SmallDisk } from './tmpfs.js';
export type { PostgresForTests } from './use-postgres.js';
export type { LongLived } from './lifecycle.js';
export type {
  ProxyConnection,
  ProxyControls,
  ProxyDirection,
  ProxyMode,
  ProxyStats,
  TcpProxy,
  TcpProxyOptions,
} from './tcp-proxy.js';
export { checkMajordomo, majordomoChecker } from './checkers/majordomo.js';
export { checkTitanic, titanicChecker } from './checkers/titanic.js';
export type { MajordomoCheckOptions } from './checkers/majordomo.js';
export type { TitanicCheckOptions } from './checkers/titanic.js';
