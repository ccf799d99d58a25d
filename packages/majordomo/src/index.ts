export { DEFAULT_BROKER_ENDPOINT } from './codec.js';
export type { MdpVersion, MmiServiceEntry } from './codec.js';

export { Broker } from './broker.js';
export { brokerDefaults } from './broker-options.js';
export { BrokerBindError, MajordomoError, MdpVersionError } from './errors.js';
export type { BrokerStatus } from './broker-status.js';
export type {
  BrokerClientSnapshot,
  BrokerServiceSnapshot,
  BrokerSnapshot,
  BrokerWorkerSnapshot,
} from './broker-snapshot.js';
export type { BrokerEndpoints, BrokerGauges, BrokerOptions, BrokerStats, ClientVoter } from './broker-options.js';
export type { MajordomoErrorCode } from './errors.js';

export { MajordomoClient } from './client.js';
export { majordomoClientDefaults } from './client-options.js';
export { MajordomoPipeline, majordomoPipelineDefaults } from './pipeline.js';
export { MajordomoWorker } from './worker.js';
export { majordomoWorkerDefaults } from './worker-options.js';
export type { MajordomoClientStatus, MmiServiceStatus, StreamReply } from './client.js';
export type { ClientStats } from './client-connection.js';
export type { MajordomoClientOptions } from './client-options.js';
export type { MajordomoPipelineOptions, PipelineReply, PipelineStats } from './pipeline.js';
export type { WorkerState } from './worker.js';
export type {
  MajordomoHandlerContext,
  MajordomoWorkerOptions,
  WorkerRequest,
  WorkerStats,
  WorkerStatus,
} from './worker-options.js';
