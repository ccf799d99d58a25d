export { curveFixture } from './curve.js';
export { appBin, Daemon, runCli } from './daemon.js';
export { bindEndpoint, inprocEndpoint, ipcEndpoint, LOOPBACK_ANY } from '@zpatterns/core';
export { rawDealer, RawPeer, rawRequest, rawRouter, randomMessage, seededRandom } from './peers.js';
export { postgresUrl, startPostgres } from './postgres.js';
export { eventually } from './wait.js';

export type { DaemonOptions, ExitStatus, LogLine } from './daemon.js';
export type { CurveFixture, CurvePeer } from './curve.js';
export type { PostgresCluster } from './postgres.js';
