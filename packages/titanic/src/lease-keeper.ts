/**
 * The dispatcher's side of the leases, when its store has them (PostgreSQL, several instances on
 * one database): which requests this instance holds, until when, and the loops that claim,
 * renew and hand them back. No zeromq; the dispatcher is reached through a narrow port.
 *
 *   store ──claim(limit = port.room(), lease)──> held (body, local deadline) ──port.claimed()──> queue
 *     ^  └── every claimIntervalMs, and at once on want() (a local submission, a finished dispatch)
 *     ├──── renew(held) every leaseMs / 3: a lease the store no longer gives us ──port.lost()
 *     └──── release(uuids, delay): a failure's backoff, shared by every instance; all at close
 *
 * The local deadline of a lease is the time its claim or renewal was *sent* plus `leaseMs`: never
 * later than the store's own deadline (set when the statement ran, on the database clock), so an
 * instance never dispatches a request that another instance may already hold.
 */
import { toError, type Clock, type Logger, type RetryDelay, type TimerHandle } from '@zpatterns/core';
import { persistentRetryDelay } from '@zpatterns/core/internal';
import type { LeaseStore, StoredRequest } from './store.js';

/** What the keeper needs from the dispatcher. */
export interface LeaseKeeperPort {
  /** How many more requests the dispatcher can take now. */
  room(): number;
  /** Newly claimed requests, to queue (the keeper keeps their bodies and deadlines). */
  claimed(rows: readonly StoredRequest[]): void;
  /** This instance no longer holds `uuid`: forget it. Returns true if it was still queued. */
  lost(uuid: string): boolean;
  /** Is `uuid` queued and not being dispatched right now? */
  waiting(uuid: string): boolean;
  /** Services whose requests not to claim now (their circuit is open here). */
  excluded(): Buffer[];
  /** Requests held here by service (latin1), so that claims favour the services holding fewest. */
  held?(): ReadonlyMap<string, number>;
}

/** The counters the keeper moves (a slice of `DispatcherStats`). */
export interface LeaseStats {
  claimed: number;
  leasesLost: number;
  released: number;
  storeErrors: number;
}

export interface LeaseKeeperOptions {
  instance: string;
  leaseMs: number;
  claimIntervalMs: number;
  storeRetryDelay: RetryDelay;
  clock: Clock;
  log: Logger;
  stats: LeaseStats;
}

/** This instance's hold on a claimed request: its body, and the local lease deadline. */
interface Held {
  readonly body: Buffer[];
  until: number;
}

export class LeaseKeeper {
  readonly #leases: LeaseStore;
  readonly #port: LeaseKeeperPort;
  readonly #o: LeaseKeeperOptions;
  readonly #held = new Map<string, Held>();
  #running = false;
  /** Renewals go on after claims stop (the drain), until the leases are handed back. */
  #renewingOn = false;
  #claiming: Promise<void> | undefined;
  #claimAgain = false;
  #claimFailures = 0;
  #claimTimer: TimerHandle | undefined;
  #renewTimer: TimerHandle | undefined;
  #renewing: Promise<void> | undefined;
  /** Store-wide pending count at the last refresh, plus local submissions since. */
  #backlogBase = 0;
  #backlogAdded = 0;
  #backlogAt = Number.NEGATIVE_INFINITY;
  /** Store-wide pending per service (latin1 key) at the last refresh. */
  #perService = new Map<string, number>();
  /** Local submissions per service (latin1 key) since the last refresh began. */
  #perServiceAdded = new Map<string, number>();

  constructor(leases: LeaseStore, port: LeaseKeeperPort, options: LeaseKeeperOptions) {
    this.#leases = leases;
    this.#port = port;
    this.#o = options;
  }

  /** The backlog estimate: store-wide pending at the last refresh plus local submissions since. */
  get backlog(): number {
    return this.#backlogBase + this.#backlogAdded;
  }

  /** False while claims fail (the store is unreachable): callers then wait for the retry timer. */
  get storeReachable(): boolean {
    return this.#claimFailures === 0;
  }

  start(): void {
    this.#running = true;
    this.#renewingOn = true;
    this.want();
    this.#scheduleRenew();
  }

  /** Pending requests of a service (its name as latin1), store-wide, by the same estimate as `backlog`. */
  pendingOf(key: string): number {
    return (this.#perService.get(key) ?? 0) + (this.#perServiceAdded.get(key) ?? 0);
  }

  /** A local submission was stored: count it, and claim soon. */
  submitted(key: string): void {
    this.#backlogAdded++;
    this.#perServiceAdded.set(key, (this.#perServiceAdded.get(key) ?? 0) + 1);
    if (this.storeReachable) this.want();
  }

  /** The body of `uuid` while this instance holds its lease by the local deadline. */
  holds(uuid: string): Buffer[] | undefined {
    const held = this.#held.get(uuid);
    return held !== undefined && this.#o.clock.now() < held.until ? held.body : undefined;
  }

  /** Done with `uuid` (answered, closed): nothing to renew or release. */
  forget(uuid: string): void {
    this.#held.delete(uuid);
  }

  /** Forget a request whose lease this instance no longer holds; it is not dispatched by us. */
  drop(uuid: string, reason: string): void {
    this.#held.delete(uuid);
    if (!this.#port.lost(uuid)) return;
    this.#o.stats.leasesLost++;
    this.#o.log.debug({ uuid, reason }, 'lease dropped');
  }

  /** Hand `uuids` back, claimable by any instance after `delayMs` (the shared form of a backoff). */
  release(uuids: readonly string[], delayMs: number): void {
    for (const uuid of uuids) this.#held.delete(uuid);
    this.#o.stats.released += uuids.length;
    this.#leases.release(this.#o.instance, uuids, delayMs).catch((err: unknown) => {
      // The leases then simply expire.
      this.#o.log.debug({ err: toError(err), released: uuids.length }, 'release failed');
    });
  }

  /** Delay before the `attempt`-th retry of a store operation. */
  storeDelay(attempt: number): number {
    return persistentRetryDelay(this.#o.storeRetryDelay, attempt, 5000);
  }

  /**
   * Count the store's pending requests again. Local submissions made while the count runs are
   * kept on top of it (it may or may not include them), so the estimate never falls short.
   */
  async refreshBacklog(): Promise<void> {
    const at = this.#o.clock.now();
    const addedBefore = this.#backlogAdded;
    const perServiceBefore = new Map(this.#perServiceAdded);
    if (this.#leases.countPendingByService === undefined) {
      this.#backlogBase = await this.#leases.countPending();
    } else {
      this.#perService = await this.#leases.countPendingByService();
      let total = 0;
      for (const n of this.#perService.values()) total += n;
      this.#backlogBase = total;
    }
    this.#backlogAdded -= addedBefore;
    for (const [key, n] of perServiceBefore) {
      const left = (this.#perServiceAdded.get(key) ?? 0) - n;
      if (left > 0) this.#perServiceAdded.set(key, left);
      else this.#perServiceAdded.delete(key);
    }
    this.#backlogAt = at;
  }

  /** Run a claim round now, or right after the one running (single flight). */
  want(): void {
    if (!this.#running) return;
    if (this.#claiming !== undefined) {
      this.#claimAgain = true;
      return;
    }
    this.#claiming = this.#claimRound().finally(() => {
      this.#claiming = undefined;
      if (this.#claimAgain) {
        this.#claimAgain = false;
        if (this.storeReachable) this.want();
      }
    });
  }

  /** Claim until the dispatcher is full or the store has nothing claimable; then poll later. */
  async #claimRound(): Promise<void> {
    const { clock, instance, leaseMs } = this.#o;
    if (this.#claimTimer !== undefined) clock.clearTimeout(this.#claimTimer);
    this.#claimTimer = undefined;
    let delayMs = this.#o.claimIntervalMs;
    try {
      if (clock.now() - this.#backlogAt >= 1000) await this.refreshBacklog();
      for (;;) {
        const room = this.#port.room();
        if (room <= 0 || !this.#running) break;
        const sentAt = clock.now();
        const rows = await this.#leases.claim(instance, leaseMs, room, this.#port.excluded(), this.#port.held?.());
        this.#claimFailures = 0;
        if (!this.#running) {
          const uuids = rows.map((r) => r.uuid);
          await this.#leases.release(instance, uuids, 0).catch(() => undefined);
          break;
        }
        this.#hold(rows, sentAt + leaseMs);
        if (rows.length < room) break;
      }
    } catch (caught) {
      this.#claimFailures++;
      this.#o.stats.storeErrors++;
      delayMs = this.storeDelay(this.#claimFailures);
      this.#o.log.warn({ err: toError(caught), attempt: this.#claimFailures, delayMs }, 'claim failed, will retry');
    }
    if (this.#running) {
      this.#claimTimer = clock.setTimeout(() => {
        this.#claimTimer = undefined;
        this.want();
      }, delayMs);
    }
  }

  #hold(rows: readonly StoredRequest[], until: number): void {
    const fresh: StoredRequest[] = [];
    for (const row of rows) {
      const held = this.#held.get(row.uuid);
      if (held !== undefined) {
        held.until = until;
        continue;
      }
      this.#o.stats.claimed++;
      this.#held.set(row.uuid, { body: row.body, until });
      fresh.push(row);
    }
    if (rows.length > 0) this.#o.log.debug({ claimed: rows.length, held: this.#held.size }, 'claimed');
    this.#port.claimed(fresh);
  }

  #scheduleRenew(): void {
    if (!this.#renewingOn) return;
    this.#renewTimer = this.#o.clock.setTimeout(
      () => {
        this.#renewTimer = undefined;
        this.#renewing = this.#renew().finally(() => {
          this.#renewing = undefined;
          this.#scheduleRenew();
        });
      },
      Math.max(1, Math.floor(this.#o.leaseMs / 3)),
    );
  }

  /**
   * Extend every lease held (queued or in flight). A lease the store no longer gives us (taken
   * over after it expired, or the request was answered or closed) is dropped; so is one whose
   * local deadline passed while renewals failed, unless its dispatch is already running.
   */
  async #renew(): Promise<void> {
    if (this.#held.size === 0) return;
    const { clock, instance, leaseMs } = this.#o;
    const uuids = [...this.#held.keys()];
    const sentAt = clock.now();
    try {
      const kept = new Set(await this.#leases.renew(instance, uuids, leaseMs));
      for (const uuid of uuids) {
        const held = this.#held.get(uuid);
        if (held === undefined) continue;
        if (kept.has(uuid)) held.until = sentAt + leaseMs;
        else this.drop(uuid, 'lease not renewed');
      }
    } catch (caught) {
      this.#o.stats.storeErrors++;
      this.#o.log.warn({ err: toError(caught), held: uuids.length }, 'lease renewal failed');
      const now = clock.now();
      for (const [uuid, held] of [...this.#held]) {
        if (held.until <= now && this.#port.waiting(uuid)) this.drop(uuid, 'lease expired');
      }
    }
  }

  /**
   * Stop claiming (waiting for a round in progress) and renew every lease held at once; renewals
   * go on every `leaseMs / 3` until `releaseAll()`, so a request still running while the
   * dispatcher drains keeps its lease and no other instance can take it over.
   */
  async stopClaiming(): Promise<void> {
    this.#running = false;
    const clock = this.#o.clock;
    if (this.#claimTimer !== undefined) clock.clearTimeout(this.#claimTimer);
    this.#claimTimer = undefined;
    await Promise.allSettled([this.#claiming]);
    if (this.#renewingOn && this.#renewing === undefined) {
      if (this.#renewTimer !== undefined) clock.clearTimeout(this.#renewTimer);
      this.#renewTimer = undefined;
      this.#renewing = this.#renew().finally(() => {
        this.#renewing = undefined;
        this.#scheduleRenew();
      });
    }
  }

  /** Stop every loop (waiting for a round in progress). */
  async stop(): Promise<void> {
    this.#renewingOn = false;
    await this.stopClaiming();
    const clock = this.#o.clock;
    if (this.#renewTimer !== undefined) clock.clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
    await Promise.allSettled([this.#renewing]);
  }

  /**
   * Hand every lease back at once (shutdown), so other instances need not wait for expiry; each
   * claimable again after `delayOf(uuid)` ms (default 0).
   */
  async releaseAll(timeoutMs: number, delayOf: (uuid: string) => number = () => 0): Promise<void> {
    if (this.#held.size === 0) return;
    const byDelay = new Map<number, string[]>();
    for (const uuid of this.#held.keys()) {
      const delayMs = Math.max(0, Math.ceil(delayOf(uuid)));
      const group = byDelay.get(delayMs);
      if (group === undefined) byDelay.set(delayMs, [uuid]);
      else group.push(uuid);
    }
    const held = this.#held.size;
    this.#held.clear();
    const clock = this.#o.clock;
    let timer: TimerHandle | undefined;
    const releases = [...byDelay].map(([delayMs, uuids]) => this.#leases.release(this.#o.instance, uuids, delayMs));
    this.#o.log.debug({ held, delays: [...byDelay.keys()] }, 'leases handed back');
    await Promise.race([
      Promise.all(releases).catch((err: unknown) => {
        this.#o.log.warn({ err: toError(err), held }, 'leases not released; they will expire');
      }),
      new Promise<void>((resolve) => {
        timer = clock.setTimeout(resolve, timeoutMs);
      }),
    ]);
    if (timer !== undefined) clock.clearTimeout(timer);
  }
}
