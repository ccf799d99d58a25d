/**
 * @zpatterns/titanic: disconnected reliability (9/TSP) on Majordomo, the server with its durable
 * stores and the client. The wire format is in `@zpatterns/titanic/protocol`.
 *
 * @packageDocumentation
 */
export { TitanicClient } from './client.js';
export { titanicClientDefaults } from './client-options.js';
export {
  errors,
  TitanicBadReplyError,
  TitanicRejectedError,
  TitanicServerError,
  TitanicStoreError,
  TitanicUnknownRequestError,
} from './errors.js';
export { isUuid } from './codec.js';
export { TitanicServer } from './server.js';
export { titanicServerDefaults } from './server-options.js';
export { SQLITE_FILE, SqliteStore, sqliteStoreDefaults } from './sqlite-store.js';
export { POSTGRES_SCHEMA_VERSION, PostgresStore, postgresStoreDefaults } from './postgres-store.js';
export { MemoryStore } from './memory-store.js';

export type {
  PollResult,
  TitanicClientOptions,
  TitanicClientStats,
  TitanicClientStatus,
  WaitReplyOptions,
} from './client-options.js';
export type { DispatcherStats } from './dispatcher-options.js';
export type { TitanicErrorCode } from './errors.js';
export type { TitanicServerOptions } from './server-options.js';
export type { TitanicServerStats, TitanicServerStatus } from './server-status.js';
export type { SqliteSettings, SqliteStoreOptions } from './sqlite-store.js';
export type { PostgresSettings, PostgresStoreOptions } from './postgres-store.js';
export type {
  LeaseStore,
  PendingRef,
  ServiceCounts,
  ServicePending,
  StoreAdmin,
  StoreCounts,
  StoredRequest,
  StoredState,
  StoreStats,
  StoreWrite,
  TitanicStore,
  TitanicStoreStatus,
} from './store.js';
