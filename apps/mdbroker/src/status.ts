/**
 * mdbroker's `/status` sections (docs/operations.md, "Status"): the broker's totals, its services,
 * workers and clients with queued work, and with `--ha` the pair as this broker sees it.
 */
import { RateMeter } from '@zpatterns/app-kit';
import type { BinaryStar } from '@zpatterns/bstar';
import type { Broker } from '@zpatterns/majordomo';

/** A `/status` reader for `broker` (and its Binary Star, with `--ha`). */
export function brokerStatus(broker: Broker, star: BinaryStar | undefined): () => Record<string, unknown> {
  const rates = new RateMeter();
  return () => {
    const snapshot = broker.snapshot();
    const stats = broker.stats;
    const services = snapshot.services.map(({ requests, ...service }) => ({
      ...service,
      requests,
      requestsPerSecond: rates.rate(`service:${service.name}`, requests),
    }));
    rates.retain(new Set(['all', ...services.map((s) => `service:${s.name}`)]));
    return {
      broker: {
        ...broker.gauges(),
        requests: stats.requests,
        requestsPerSecond: rates.rate('all', stats.requests),
        expiredRequests: stats.expiredRequests,
        refusedRequests: stats.refused,
      },
      services,
      workers: snapshot.workers,
      clients: snapshot.clients,
      ...(star === undefined ? {} : { pair: { ...star.snapshot(), splitBrains: star.stats.splitBrains } }),
    };
  };
}
