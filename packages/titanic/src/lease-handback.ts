/**
 * Lease stores: when the dispatcher gives requests back to the store instead of holding them.
 * Held here, requests of a failing service would fill this instance's claim room and stall every
 * other service; handed back, any instance may take them once their delay ends.
 */
import type { DispatchQueue, Job } from './dispatch-queue.js';
import type { LeaseKeeper } from './lease-keeper.js';

/**
 * Hand a failed request back with its backoff instead of holding it here, so that a dead service
 * cannot fill this instance's queue; while the service's circuit is open, its other queued
 * requests go back too, with the circuit's delay.
 */
export function releaseAfterFailure(queue: DispatchQueue, keeper: LeaseKeeper, job: Job, now: number): void {
  const openAt = queue.circuit(job.service)?.openAt();
  const serviceDelayMs = openAt !== undefined && Number.isFinite(openAt) ? Math.max(0, openAt - now) : 0;
  const others: string[] = [];
  if (serviceDelayMs > 0) {
    for (const other of queue.jobs()) {
      if (other !== job && !other.inFlight && other.service.equals(job.service)) others.push(other.uuid);
    }
  }
  const give = (uuids: string[], delayMs: number): void => {
    for (const uuid of uuids) queue.remove(uuid);
    keeper.release(uuids, delayMs);
  };
  give([job.uuid], Math.max(serviceDelayMs, job.notBefore - now));
  if (others.length > 0) give(others, serviceDelayMs);
}

/**
 * A probe after a failure is in flight, and its service is not claimed meanwhile; its other
 * queued requests go back at once (any instance may take them), rather than hold this instance's
 * room for as long as the probe may take (up to the dispatch timeout when the service hangs).
 */
export function handBackBehindProbe(queue: DispatchQueue, keeper: LeaseKeeper, probe: Job): void {
  const circuit = queue.circuit(probe.service)?.current;
  if (circuit?.state !== 'probing' || circuit.failures === 0) return;
  const others = queue
    .jobs()
    .filter((j) => j !== probe && !j.inFlight && j.service.equals(probe.service))
    .map((j) => j.uuid);
  if (others.length === 0) return;
  for (const uuid of others) queue.remove(uuid);
  keeper.release(others, 0);
}
