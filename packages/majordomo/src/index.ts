export {
  C02,
  decodeClientReply,
  decodeFromBroker,
  decodeInbound,
  encodeClientReply,
  encodeClientRequest,
  encodeWorkerCommand,
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

export type { ClientReply, Inbound, MdpVersion, WorkerCommand, WorkerCommandType } from './protocol.js';
