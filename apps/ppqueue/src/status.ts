/**
 * ppqueue's `/status` sections (docs/operations.md, "Status"): workers ready and busy, the
 * backlog of requests waiting for a worker, and the request rate.
 */
import { RateMeter } from '@zpatterns/app-kit';
import type { ParanoidPirateQueue, SimplePirateQueue } from '@zpatterns/pirate';

/** A `/status` reader for a Paranoid (or Simple) Pirate queue. */
export function queueStatus(queue: ParanoidPirateQueue | SimplePirateQueue): () => Record<string, unknown> {
  const rates = new RateMeter();
  return () => {
    const stats = queue.stats;
    const paranoid = 'workers' in queue;
    const workers = paranoid ? queue.workers : { ready: queue.readyWorkers, busy: 0 };
    return {
      queue: {
        mode: paranoid ? 'paranoid' : 'simple',
        frontend: queue.endpoints.frontend,
        backend: queue.endpoints.backend,
        readyWorkers: workers.ready,
        busyWorkers: paranoid ? workers.busy : null,
        queuedRequests: queue.queued,
        queuedBytes: queue.queuedBytes,
        requests: stats.requests,
        requestsPerSecond: rates.rate('requests', stats.requests),
        refusedRequests: stats.refused,
        workersRegistered: stats.workersRegistered,
        expiredWorkers: 'expiredWorkers' in stats ? stats.expiredWorkers : 0,
      },
    };
  };
}
