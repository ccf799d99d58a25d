export {
  C02,
  decodeClientReply,
  DEFAULT_BROKER_ENDPOINT,
  decodeFromBroker,
  decodeInbound,
  decodeMmiServicesBody,
  encodeClientReply,
  encodeClientRequest,
  encodeMmiServicesBody,
  encodeWorkerCommand,
  encodeWorkerRequest,
  isMmiService,
  MDPC01,
  MDPC02,
  MDPW01,
  MDPW02,
  MMI,
  MMI_PREFIX,
  W01,
  W02,
  WORKER_DISCONNECT,
  WORKER_HEARTBEAT,
} from './protocol.js';

export type {
  ClientReply,
  Inbound,
  MdpVersion,
  MmiServiceEntry,
  WorkerCommand,
  WorkerCommandType,
} from './protocol.js';

export { Broker } from './broker.js';
export { brokerDefaults } from './broker-options.js';
export { BrokerBindError, MajordomoError, MajordomoOptionsError } from './errors.js';
export type { BrokerState } from './broker.js';
export type { BrokerGauges, BrokerObserver, BrokerOptions, BrokerStats, ClientVoter } from './broker-options.js';
export type { MajordomoErrorCode } from './errors.js';

export { MajordomoClient } from './client.js';
export { majordomoClientDefaults } from './client-options.js';
export { MajordomoPipeline, majordomoPipelineDefaults } from './pipeline.js';
export { MajordomoWorker } from './worker.js';
export { majordomoWorkerDefaults } from './worker-options.js';
export { MajordomoTimeoutError, MdpVersionError, WorkerGaveUpError } from './errors.js';
export type { MmiServiceStatus } from './client.js';
export type { ClientStats } from './client-connection.js';
export type { MajordomoClientOptions, RequestOptions, ResolvedClientOptions } from './client-options.js';
export type { MajordomoPipelineOptions, PipelineReply, PipelineStats } from './pipeline.js';
export type { WorkerState } from './worker.js';
export type {
  MajordomoWorkerOptions,
  RequestContext,
  RequestHandler,
  ResolvedWorkerOptions,
  WorkerRequest,
  WorkerStats,
  WorkerStatus,
} from './worker-options.js';
