/**
 * Liveness of a set of peers, the one mechanism every pattern uses to decide that a peer is dead:
 * a peer is alive from any sign of life until `ttlMs` of silence, then dead until it is heard from
 * again. One timer for the whole set, armed at the earliest expiry (peers share one TTL, so the
 * least recently seen peer is always the next to expire): no scans of live peers, and a late tick
 * can never hide an expiry.
 *
 * ```
 *   unknown --seen()--> alive --ttlMs of silence, or lost()--> dead
 *      |                  ^                                     |
 *      |                  +---------------seen()----------------+
 *      +--ttlMs after expect(), unheard-----------------------> dead
 * ```
 */
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { InvalidArgumentError } from './errors.js';
import { ExpiryList } from './expiry.js';

/** What {@link PeerLiveness} knows of one peer. */
export type PeerState = 'unknown' | 'alive' | 'dead';

/** Options of `new PeerLiveness(options)`. */
export interface PeerLivenessOptions<K> {
  /** Silence after which a live peer is dead. */
  ttlMs: number;
  /** Time source. @default systemClock */
  clock?: Clock | undefined;
  /**
   * Called on every change of state: `alive` when a peer is first heard from or comes back,
   * `dead` when it has been silent `ttlMs` (or was declared lost). `silentMs` is the silence so far.
   */
  onChange?: ((key: K, state: 'alive' | 'dead', silentMs: number) => void) | undefined;
}

interface Peer {
  state: PeerState;
  lastSeen: number;
}

/**
 * Tracks when each peer was last heard from and calls `onChange` as peers come alive and die.
 * Time comes from an injectable `Clock`, so the rules are tested without waiting. Throws
 * `InvalidArgumentError` for `ttlMs <= 0`.
 */
export class PeerLiveness<K> {
  readonly #peers = new Map<K, Peer>();
  /** Peers with a running expiry (alive, or expected), least recently seen first. */
  readonly #expiring: ExpiryList<K, Peer>;
  readonly #clock: Clock;
  readonly #onChange: PeerLivenessOptions<K>['onChange'];
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #stopped = false;

  constructor(options: PeerLivenessOptions<K>) {
    if (!(options.ttlMs > 0)) throw new InvalidArgumentError('PeerLiveness: ttlMs must be > 0');
    this.#expiring = new ExpiryList(options.ttlMs);
    this.#clock = options.clock ?? systemClock;
    this.#onChange = options.onChange;
  }

  /** Silence after which a live peer is dead. */
  get ttlMs(): number {
    return this.#expiring.ttlMs;
  }

  /** Peers known, whatever their state. */
  get size(): number {
    return this.#peers.size;
  }

  /** Track `key` as `unknown` (no expiry runs until it is seen); a no-op when known. */
  add(key: K): void {
    if (!this.#peers.has(key)) this.#peers.set(key, { state: 'unknown', lastSeen: Number.NEGATIVE_INFINITY });
  }

  /**
   * Start the clock on a peer not heard from yet: unless it is seen within `ttlMs` it becomes
   * `dead`. Its state stays `unknown` (or what it was) until then.
   */
  expect(key: K): void {
    const peer = this.#peer(key);
    if (peer.state === 'alive') return;
    peer.lastSeen = this.#clock.now();
    this.#expiring.touch(key, peer, peer.lastSeen);
    if (this.#timer === undefined) this.#arm();
  }

  /**
   * A sign of life from `key` (any message) at `now` (the clock's time, read here when not
   * given). Returns `true` when this brought it (back) to life.
   */
  seen(key: K, now: number = this.#clock.now()): boolean {
    const peer = this.#peer(key);
    peer.lastSeen = now;
    this.#expiring.touch(key, peer, now);
    // A sign of life only moves an expiry later: an armed timer fires no later than needed and
    // re-arms then, so the common case (every message) costs no timer work.
    if (this.#timer === undefined) this.#arm();
    if (peer.state === 'alive') return false;
    peer.state = 'alive';
    this.#onChange?.(key, 'alive', 0);
    return true;
  }

  /** Declare `key` dead now (unreachable, refused). Returns `true` when it was alive. */
  lost(key: K): boolean {
    const peer = this.#peers.get(key);
    if (peer === undefined) return false;
    this.#expiring.delete(key);
    this.#arm();
    const wasAlive = peer.state === 'alive';
    if (peer.state !== 'dead') {
      peer.state = 'dead';
      this.#onChange?.(key, 'dead', this.#silent(peer));
    }
    return wasAlive;
  }

  /** Forget `key`, without calling `onChange`. Returns `true` when it was known. */
  delete(key: K): boolean {
    this.#expiring.delete(key);
    this.#arm();
    return this.#peers.delete(key);
  }

  /** The state of `key` (`unknown` for a peer never added). */
  state(key: K): PeerState {
    return this.#peers.get(key)?.state ?? 'unknown';
  }

  /** Whether `key` is alive. */
  isAlive(key: K): boolean {
    return this.#peers.get(key)?.state === 'alive';
  }

  /** When `key` was last heard from (clock ms), or `-Infinity`. */
  lastSeen(key: K): number {
    return this.#peers.get(key)?.lastSeen ?? Number.NEGATIVE_INFINITY;
  }

  /** When `key` dies unless heard from again (clock ms); `-Infinity` when it is not timing. */
  expiresAt(key: K): number {
    return this.#expiring.expiresAt(key) ?? Number.NEGATIVE_INFINITY;
  }

  /** Peers now alive, in the order they were added. */
  alive(): K[] {
    const keys: K[] = [];
    for (const [key, peer] of this.#peers) if (peer.state === 'alive') keys.push(key);
    return keys;
  }

  /** Every known peer and its state, in the order they were added. */
  *entries(): IterableIterator<[K, PeerState]> {
    for (const [key, peer] of this.#peers) yield [key, peer.state];
  }

  /** Stop the timer for good: no more `onChange` calls. Idempotent. */
  stop(): void {
    this.#stopped = true;
    this.#disarm();
  }

  #peer(key: K): Peer {
    let peer = this.#peers.get(key);
    if (peer === undefined) {
      peer = { state: 'unknown', lastSeen: Number.NEGATIVE_INFINITY };
      this.#peers.set(key, peer);
    }
    return peer;
  }

  #silent(peer: Peer): number {
    return peer.lastSeen === Number.NEGATIVE_INFINITY ? 0 : this.#clock.now() - peer.lastSeen;
  }

  /** Arm the one timer at the earliest expiry, unless it is armed at that time already. */
  #arm(): void {
    if (this.#stopped) return;
    const head = this.#expiring.entries().next();
    if (head.done === true) {
      this.#disarm();
      return;
    }
    const at = this.#expiring.expiresAt(head.value[0]) as number;
    if (this.#timer !== undefined && this.#timerAt <= at) return; // fires earlier, re-arms then
    this.#disarm();
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(this.#tick, Math.max(0, at - this.#clock.now()));
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const expired: [K, Peer][] = [];
    this.#expiring.purge(this.#clock.now(), (key, peer) => expired.push([key, peer]));
    for (const [key, peer] of expired) {
      if (this.#stopped) return;
      peer.state = 'dead';
      this.#onChange?.(key, 'dead', this.#silent(peer));
    }
    this.#arm();
  };
}
