/**
 * Per-service gauges of mdbroker, read from `Broker.snapshot()` at scrape time, under the same
 * bounded `service` label as the per-service counters (the first `--metrics-services` names, the
 * rest summed as `_other`): workers registered, requests queued, and the age of the oldest queued
 * request. A service with queued requests and no worker is what an operator must be woken for.
 */
import { Gauge, type Registry } from '@zpatterns/app-kit';
import type { Broker } from '@zpatterns/majordomo';

/** Register `zpatterns_broker_service_{workers,queued_requests,oldest_queued_seconds}{service}`. */
export function serviceGauges(registry: Registry, broker: Broker, label: (name: string) => string): void {
  let cached: { at: number; rows: Map<string, { workers: number; queued: number; oldestMs: number }> } | undefined;
  // One snapshot per scrape, whichever of the three gauges is collected first.
  const rows = (): Map<string, { workers: number; queued: number; oldestMs: number }> => {
    const now = performance.now();
    if (cached !== undefined && now - cached.at < 100) return cached.rows;
    const map = new Map<string, { workers: number; queued: number; oldestMs: number }>();
    for (const s of broker.snapshot().services) {
      const key = label(s.name);
      const row = map.get(key) ?? { workers: 0, queued: 0, oldestMs: 0 };
      row.workers += s.workers;
      row.queued += s.queuedRequests;
      row.oldestMs = Math.max(row.oldestMs, s.oldestQueuedMs);
      map.set(key, row);
    }
    cached = { at: now, rows: map };
    return map;
  };
  const gauge = (
    name: string,
    help: string,
    read: (row: { workers: number; queued: number; oldestMs: number }) => number,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['service'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [service, row] of rows()) this.set({ service }, read(row));
      },
    });
  gauge('zpatterns_broker_service_workers', 'workers registered per service', (r) => r.workers);
  gauge('zpatterns_broker_service_queued_requests', 'requests waiting for a worker per service', (r) => r.queued);
  gauge(
    'zpatterns_broker_service_oldest_queued_seconds',
    'age of the oldest request waiting for a worker per service (0: none waiting)',
    (r) => r.oldestMs / 1000,
  );
}
