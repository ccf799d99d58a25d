/**
 * The metrics of one server of a Binary Star pair (bstarsrv, and mdbroker or clonesrv with `--ha`):
 * one `zpatterns_bstar_*_total` counter per field of its stats, `zpatterns_bstar_failovers_total`,
 * and the gauges `zpatterns_bstar_active` (1 while this server serves) and
 * `zpatterns_bstar_peer_alive` (1 while the peer's state messages arrive). An active server whose
 * peer is not alive is a pair without a passive: nothing takes over if it fails.
 */
import type { Registry } from 'prom-client';
import { gaugesOf, statsCounters } from './metrics.js';

/** What `pairMetrics` reads of a `BinaryStar` (structural: app-kit does not depend on bstar). */
export interface PairView {
  /** Whether this server serves clients now. */
  readonly isActive: boolean;
  /** Its counters: one `zpatterns_bstar_<field>_total` each. */
  readonly stats: object;
  /** The peer's liveness (`alive`, `dead`, `unknown`) and the failovers so far. */
  snapshot(): { readonly peer: string; readonly failovers: number };
}

/** Register the pair's counters and gauges on `registry`, read at scrape time. */
export function pairMetrics(registry: Registry, star: PairView): void {
  statsCounters(registry, 'bstar', () => ({ ...star.stats, failovers: star.snapshot().failovers }));
  gaugesOf(registry, 'bstar', () => ({
    active: star.isActive ? 1 : 0,
    peerAlive: star.snapshot().peer === 'alive' ? 1 : 0,
  }));
}
