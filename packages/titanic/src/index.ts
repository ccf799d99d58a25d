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
} from './protocol.js';

export type { SubmitRequest, TspReply, TspStatus } from './protocol.js';
