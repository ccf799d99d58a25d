/**
 * titanic's `/status` sections (docs/operations.md, "Status"): this instance and its store's
 * health, requests by service (pending and done in the store, in flight on this instance), and on
 * PostgreSQL who holds the dispatch leases. With `--with-broker`, the in-process broker's totals.
 *
 * The per-service counts are one grouped query; a page polling every second shares one query a
 * second whatever the number of readers.
 */
import { Gauge, type Registry } from '@zpatterns/app-kit';
import type { Broker } from '@zpatterns/majordomo';
import type { ServiceCounts, TitanicServer } from '@zpatterns/titanic';

interface StatusQueries {
  statusByService?(): Promise<ServiceCounts[]>;
  leaseHolders?(): Promise<{ instance: string; leases: number }[]>;
}

/** A `/status` reader for one Titanic instance. */
export function titanicStatus(
  server: TitanicServer,
  storeKind: 'sqlite' | 'postgres' | 'memory',
  broker: Broker | undefined,
): () => Promise<Record<string, unknown>> {
  const store = server.store as typeof server.store & StatusQueries;
  let cached: { at: number; read: Promise<[ServiceCounts[] | null, { instance: string; leases: number }[] | null]> };
  const query = (): typeof cached.read => {
    const now = performance.now();
    if (cached === undefined || now - cached.at >= 1000) {
      // While the database is down the store's figures are null; the rest still answers.
      const read = Promise.all([
        store.statusByService?.().catch(() => null) ?? Promise.resolve(null),
        store.leaseHolders?.().catch(() => null) ?? Promise.resolve(null),
      ]);
      cached = { at: now, read };
    }
    return cached.read;
  };
  return async () => {
    const [counts, leases] = await query();
    const inFlight = server.inFlightByService();
    const names = new Set([...(counts ?? []).map((c) => c.service), ...inFlight.keys()]);
    const byName = new Map((counts ?? []).map((c) => [c.service, c]));
    const wallNow = Date.now();
    const services = [...names].sort().map((name) => {
      const c = byName.get(name);
      return {
        name,
        pending: c?.pending ?? null,
        inFlight: inFlight.get(name) ?? 0,
        done: c?.done ?? null,
        oldestPendingMs: c?.oldestPendingMs == null ? null : Math.max(0, wallNow - c.oldestPendingMs),
      };
    });
    const stats = server.stats;
    return {
      titanic: {
        instance: server.instance ?? null,
        healthy: server.healthy,
        store: storeKind,
        storeHealthy: server.store.healthy !== false,
        pending: server.pending,
        submitted: stats.submitted,
        dispatchTimeouts: stats.dispatch.timeouts,
      },
      services,
      ...(leases === null ? {} : { leases: leases.map((l) => ({ ...l, self: l.instance === server.instance })) }),
      ...(broker === undefined ? {} : { broker: broker.gauges() }),
    };
  };
}

/**
 * Gauges for alerting: `zpatterns_titanic_store_healthy` (1 while the store can commit) and
 * `zpatterns_titanic_oldest_pending_seconds` (age of the oldest request stored and not answered,
 * 0 with none; it keeps its last value while the database does not answer).
 */
export function titanicGauges(registry: Registry, server: TitanicServer): void {
  const store = server.store as typeof server.store & StatusQueries;
  new Gauge({
    name: 'zpatterns_titanic_store_healthy',
    help: 'whether the store can commit (0: database unreachable, disk full or failing)',
    registers: [registry],
    collect() {
      this.set(server.store.healthy === false ? 0 : 1);
    },
  });
  new Gauge({
    name: 'zpatterns_titanic_oldest_pending_seconds',
    help: 'age of the oldest request stored and not yet answered (0: none)',
    registers: [registry],
    async collect() {
      const counts = await store.statusByService?.().catch(() => undefined);
      if (counts === undefined) return;
      const oldest = Math.min(...counts.map((c) => c.oldestPendingMs ?? Number.POSITIVE_INFINITY));
      this.set(Number.isFinite(oldest) ? Math.max(0, Date.now() - oldest) / 1000 : 0);
    },
  });
}
