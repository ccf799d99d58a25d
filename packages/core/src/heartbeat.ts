/**
 * Heartbeating with Paranoid Pirate semantics, for one peer: send a heartbeat every `intervalMs`,
 * treat *any* inbound traffic as a sign of life, and declare the peer dead after
 * `liveness x intervalMs` of silence. Two timers: the beats, and the expiry (armed for the last
 * sign of life plus the silence allowed; when it fires early because traffic came since, it
 * re-arms for the rest). A sign of life is one clock read and one store: no timer work, no map.
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
  readonly #clock: Clock;
  /** Silence after which the peer is dead: `liveness x intervalMs`. */
  readonly #ttlMs: number;
  #beatTimer: TimerHandle | undefined;
  #expiryTimer: TimerHandle | undefined;
  #running = false;
  #lastSeen = 0;

  constructor(port: HeartbeatPort, options: HeartbeatOptions = {}) {
    const o = { ...heartbeatDefaults, ...options };
    if (!(o.intervalMs > 0)) throw new InvalidArgumentError('Heartbeat: intervalMs must be > 0');
    if (!(o.liveness >= 1)) throw new InvalidArgumentError('Heartbeat: liveness must be >= 1');
    this.#port = port;
    this.#intervalMs = o.intervalMs;
    this.#clock = o.clock;
    this.#ttlMs = o.intervalMs * o.liveness;
  }

  /** Whether the heartbeat is running (between `start()` and `stop()` or expiry). */
  get running(): boolean {
    return this.#running;
  }

  /** When the peer will be declared dead unless it is heard from again. */
  get expiresAt(): number {
    return this.#lastSeen + this.#ttlMs;
  }

  /** Start (or restart) with the peer counted as just seen; the first beat is one interval away. */
  start(): void {
    this.stop();
    this.#running = true;
    this.#lastSeen = this.#clock.now();
    this.#armBeat();
    this.#expiryTimer = this.#clock.setTimeout(this.#expire, this.#ttlMs);
  }

  /** Any inbound traffic: the peer is alive. Cheap enough to call on every message. */
  touch(): void {
    if (this.#running) this.#lastSeen = this.#clock.now();
  }

  /** Stop beating and watching the peer; idempotent. `start()` begins again. */
  stop(): void {
    this.#running = false;
    if (this.#beatTimer !== undefined) {
      this.#clock.clearTimeout(this.#beatTimer);
      this.#beatTimer = undefined;
    }
    if (this.#expiryTimer !== undefined) {
      this.#clock.clearTimeout(this.#expiryTimer);
      this.#expiryTimer = undefined;
    }
  }

  /** The expiry timer: the peer is dead, or was heard since it was armed (re-arm for the rest). */
  readonly #expire = (): void => {
    this.#expiryTimer = undefined;
    if (!this.#running) return;
    const silentMs = this.#clock.now() - this.#lastSeen;
    if (silentMs < this.#ttlMs) {
      this.#expiryTimer = this.#clock.setTimeout(this.#expire, this.#ttlMs - silentMs);
      return;
    }
    this.stop();
    this.#port.expired(silentMs);
  };

  #armBeat(): void {
    this.#beatTimer = this.#clock.setTimeout(this.#beat, this.#intervalMs);
  }

  readonly #beat = (): void => {
    this.#beatTimer = undefined;
    if (!this.#running) return;
    // An expiry due at this very moment wins over the beat.
    if (this.#clock.now() >= this.expiresAt) return;
    this.#port.beat();
    // The port may have stopped or restarted us while beating.
    if (this.#running && this.#beatTimer === undefined) this.#armBeat();
  };
}
