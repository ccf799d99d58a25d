export { curveFixture } from './curve.js';
export { useDisposables } from './disposables.js';
export { appBin, Daemon, runCli } from './daemon.js';
export { expectCleanHealthShutdown, healthThroughShutdown, probe } from './health.js';
export { bindEndpoint, inprocEndpoint, ipcEndpoint, LOOPBACK_ANY } from '@zpatterns/core';
export { rawDealer, RawPeer, rawRequest, rawRouter, randomMessage, seededRandom } from './peers.js';
export { freePortRange, onFreePortRange } from './ports.js';
export { postgresUrl, startPostgres } from './postgres.js';
export { startTcpProxy } from './tcp-proxy.js';
export { rssBytes, sendAndExpectDrop } from './untrusted.js';
export { eventually } from './wait.js';

export type { DaemonOptions, ExitStatus, LogLine } from './daemon.js';
export type { CurveFixture, CurvePeer } from './curve.js';
export type { Closable, Disposables } from './disposables.js';
export type { FreePortRangeOptions } from './ports.js';
export type { HealthThroughShutdown, Probe } from './health.js';
export type { PostgresCluster } from './postgres.js';
export type { ProxyConnection, ProxyControls, ProxyMode, ProxyStats, TcpProxy, TcpProxyOptions } from './tcp-proxy.js';
