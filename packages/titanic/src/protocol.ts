/**
 * `@zpatterns/titanic/protocol`: the 9/TSP wire format (codecs, service names, status codes,
 * UUIDs) and the stores' body encoding, for tools that speak to Titanic or read its store directly.
 */
export {
  decodeSubmit,
  decodeSubmitted,
  decodeTspReply,
  decodeUuidRequest,
  encodeReplyReady,
  encodeStatus,
  encodeSubmit,
  encodeSubmitted,
  encodeUuidRequest,
  generateUuid,
  isUuid,
  parseUuid,
  STATUS_ERROR,
  STATUS_OK,
  STATUS_PENDING,
  STATUS_UNKNOWN,
  TSP_SERVICE,
  TSP_STATUS,
  UUID_LENGTH,
} from './codec.js';
export { decodeFrames, encodeFrames } from './store.js';

export type { SubmitRequest, TspReply, TspStatus } from './codec.js';
