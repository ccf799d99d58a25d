/**
 * clonesrv's `/status` sections (docs/operations.md, "Status"): the map (sequence, keys), its
 * subscribers, a passive server's pending updates, split brains, health, and with `--ha` the pair.
 */
import { RateMeter } from '@zpatterns/app-kit';
import type { CloneServer } from '@zpatterns/clone';

/** A `/status` reader for one Clone server. */
export function cloneStatus(server: CloneServer): () => Record<string, unknown> {
  const rates = new RateMeter();
  return () => {
    const stats = server.stats;
    const health = server.health;
    const star = server.binaryStar;
    return {
      clone: {
        role: server.role,
        sequence: String(server.sequence),
        keys: server.size,
        subscribers: server.subscribers,
        pending: server.pendingCount,
        updates: stats.updates,
        updatesPerSecond: rates.rate('updates', stats.updates),
        splitBrains: stats.splitBrains,
        healthy: health.ok,
        unhealthyReason: health.ok ? null : health.reason,
      },
      ...(star === undefined ? {} : { pair: { ...star.snapshot(), splitBrains: star.stats.splitBrains } }),
    };
  };
}
