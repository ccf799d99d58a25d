/**
 * flserver's `/status` sections (docs/operations.md, "Status"): the server's identity, requests
 * in the handler against its bound, and the request rate.
 */
import { RateMeter } from '@zpatterns/app-kit';
import type { FreelanceServer } from '@zpatterns/freelance';

/** A `/status` reader for one Freelance server. */
export function freelanceStatus(server: FreelanceServer, maxConcurrent: number): () => Record<string, unknown> {
  const rates = new RateMeter();
  return () => {
    const stats = server.stats;
    return {
      server: {
        endpoint: server.endpoints.clients,
        bound: server.endpoints.bound,
        inFlight: server.inFlight,
        maxConcurrent,
        saturated: server.inFlight >= maxConcurrent,
        requests: stats.requests,
        requestsPerSecond: rates.rate('requests', stats.requests),
        pings: stats.pings,
        malformed: stats.malformed,
        handlerErrors: stats.handlerErrors,
      },
    };
  };
}
