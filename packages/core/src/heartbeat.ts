/**
 * Heartbeating with Paranoid Pirate semantics, for one peer: send a heartbeat every `intervalMs`,
 * treat *any* inbound traffic as a sign of life, and declare the peer dead after
 * `liveness x intervalMs` of silence. One timer per component, re-armed at the next event that
 * matters (a beat or the expiry), so a late tick can never hide an expiry.
 */
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { InvalidArgumentError } from './errors.js';

/** Options of `new Heartbeat(port, options)`. */
export interface HeartbeatOptions {
  /** Time between heartbeats we send, and the unit of `liveness`. @default 1000 */
  intervalMs?: number;
  /** Intervals of silence after which the peer is dead. @default 3 */
  liveness?: number;
  /** Time source. @default systemClock */
  clock?: Clock;
}

/** The book's heartbeat: every 1000 ms, peer dead after 3 silent intervals, on the system clock. */
export const heartbeatDefaults: Required<HeartbeatOptions> = {
  intervalMs: 1000,
  liveness: 3,
  clock: systemClock,
};

/** What the heartbeat does when it fires: the narrow port to the component that owns it. */
export interface HeartbeatPort {
  /** Time to send a heartbeat to the peer. */
  beat(): void;
  /** The peer has been silent for `silentMs` (>= liveness x interval). The heartbeat has stopped. */
  expired(silentMs: number): void;
}

/**
 * Liveness of one peer: calls `port.beat()` every `intervalMs` and `port.expired()` once the peer
 * has been silent for `liveness` intervals (then stops). Call `touch()` on any traffic from the
 * peer. Runs on an injectable `Clock`, so it can be tested without waiting. Throws
 * `InvalidArgumentError` for `intervalMs <= 0` or `liveness < 1`.
 */
export class Heartbeat {
  readonly #port: HeartbeatPort;
  readonly #intervalMs: number;
  readonly #expiryMs: number;
  readonly #clock: Clock;
  #lastSeen = 0;
  #nextBeatAt = 0;
  #timer: TimerHandle | undefined;
  /** Bumped by start/stop, so a tick can tell whether the port restarted or stopped us. */
  #generation = 0;

  constructor(port: HeartbeatPort, options: HeartbeatOptions = {}) {
    const o = { ...heartbeatDefaults, ...options };
    if (!(o.intervalMs > 0)) throw new InvalidArgumentError('Heartbeat: intervalMs must be > 0');
    if (!(o.liveness >= 1)) throw new InvalidArgumentError('Heartbeat: liveness must be >= 1');
    this.#port = port;
    this.#intervalMs = o.intervalMs;
    this.#expiryMs = o.intervalMs * o.liveness;
    this.#clock = o.clock;
  }

  /** Whether the timer is armed (between `start()` and `stop()` or expiry). */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** When the peer will be declared dead unless it is heard from again. */
  get expiresAt(): number {
    return this.#lastSeen + this.#expiryMs;
  }

  /** Start (or restart) with the peer counted as just seen; the first beat is one interval away. */
  start(): void {
    this.stop();
    const now = this.#clock.now();
    this.#lastSeen = now;
    this.#nextBeatAt = now + this.#intervalMs;
    this.#arm(now);
  }

  /** Any inbound traffic: the peer is alive. Cheap enough to call on every message. */
  touch(): void {
    this.#lastSeen = this.#clock.now();
  }

  /** Stop beating and watching the peer; idempotent. `start()` begins again. */
  stop(): void {
    this.#generation++;
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #arm(now: number): void {
    const at = Math.min(this.#nextBeatAt, this.#lastSeen + this.#expiryMs);
    this.#timer = this.#clock.setTimeout(this.#tick, Math.max(0, at - now));
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    const now = this.#clock.now();
    const silentMs = now - this.#lastSeen;
    if (silentMs >= this.#expiryMs) {
      this.#port.expired(silentMs);
      return;
    }
    if (now >= this.#nextBeatAt) {
      this.#nextBeatAt = now + this.#intervalMs;
      const generation = this.#generation;
      this.#port.beat();
      // The port may have stopped or restarted us while beating.
      if (generation !== this.#generation) return;
    }
    this.#arm(now);
  };
}
