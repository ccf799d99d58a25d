/**
 * bstarsrv's `/status` sections (docs/operations.md, "Status"): the pair as this server sees it,
 * and the echo service it runs while active.
 */
import { RateMeter } from '@zpatterns/app-kit';
import type { BinaryStar } from '@zpatterns/bstar';

/** A `/status` reader for one server of a pair. */
export function pairStatus(star: BinaryStar, frontend: string): () => Record<string, unknown> {
  const rates = new RateMeter();
  return () => {
    const stats = star.stats;
    return {
      pair: { ...star.snapshot(), splitBrains: stats.splitBrains, dualPassives: stats.dualPassives },
      server: {
        frontend,
        accepted: stats.accepted,
        rejected: stats.rejected,
        requestsPerSecond: rates.rate('accepted', stats.accepted),
      },
    };
  };
}
