/** @zpatterns/freelance: brokerless reliable request-reply (10/FLP), the client agent and the server. */
export { FreelanceClient } from './client.js';
export { freelanceClientDefaults } from './client-options.js';
export { errors, FreelanceBindError } from './errors.js';
export { FreelanceServer, freelanceServerDefaults } from './server.js';

export type {
  FreelanceClientOptions,
  FreelanceClientStats,
  FreelanceClientStatus,
  FreelanceServerInfo,
} from './client-options.js';
export type { FreelanceErrorCode } from './errors.js';
export type { FreelanceStrategy, ServerState } from './servers.js';
export type {
  FreelanceHandlerContext,
  FreelanceServerEndpoints,
  FreelanceServerOptions,
  FreelanceServerStats,
  FreelanceServerStatus,
} from './server.js';
