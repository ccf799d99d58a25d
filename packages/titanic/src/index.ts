export { TitanicClient, titanicClientDefaults } from './client.js';
export { Dispatcher, dispatcherDefaults, newInstanceId } from './dispatcher.js';
export {
  errors,
  TitanicBadReplyError,
  TitanicInvalidUuidError,
  TitanicRejectedError,
  TitanicServerError,
  TitanicStoreError,
  TitanicUnknownRequestError,
} from './errors.js';
export { GroupCommitter, groupCommitterDefaults } from './group-commit.js';
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
export { TitanicServer, titanicServerDefaults } from './server.js';
export { SQLITE_FILE, SqliteStore, sqliteStoreDefaults } from './sqlite-store.js';
export { POSTGRES_SCHEMA_VERSION, PostgresStore, postgresStoreDefaults } from './postgres-store.js';
export { decodeFrames, encodeFrames, leasesOf, MemoryStore } from './store.js';

export type { PollResult, TitanicCallOptions, TitanicClientOptions, WaitReplyOptions } from './client.js';
export type { DispatchClient, DispatcherOptions, DispatcherStats } from './dispatcher.js';
export type { TitanicErrorCode } from './errors.js';
export type { GroupCommitStats, GroupCommitterOptions } from './group-commit.js';
export type { SubmitRequest, TspReply, TspStatus } from './protocol.js';
export type { TitanicServerOptions, TitanicServerState, TitanicServerStats } from './server.js';
export type { SqliteStoreOptions } from './sqlite-store.js';
export type { PostgresSettings, PostgresStoreOptions } from './postgres-store.js';
export type {
  LeaseStore,
  PendingRef,
  ServicePending,
  StoreAdmin,
  StoreCounts,
  StoredRequest,
  StoredState,
  StoreStats,
  StoreWrite,
  TitanicStore,
} from './store.js';
