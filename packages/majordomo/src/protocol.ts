/**
 * The Majordomo wire format (7/MDP, 18/MDP, 8/MMI): codecs and constants, for tools and tests
 * that speak MDP by hand. Import from `@zpatterns/majordomo/protocol`. The frame layouts, with the
 * codecs themselves, are in `codec.ts`.
 */
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
  encodeWorkerReply,
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
} from './codec.js';

export type { ClientReply, Inbound, MdpVersion, MmiServiceEntry, WorkerCommand, WorkerCommandType } from './codec.js';
