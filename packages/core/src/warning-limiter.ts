/**
 * Rate-limited warnings: garbage on the wire is always counted, but only the first few per second
 * are logged, then one line saying how many were suppressed. 10k malformed messages cost a handful
 * of log lines, not 10k.
 */
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';

/**
 * Rate-limited warnings: at most `perSecond` lines a second go to the logger, then one line
 * with the number suppressed. Use it for anything a peer can trigger, so garbage on the wire
 * cannot flood the log. Count the events yourself; this only limits the logging.
 */
export class WarningLimiter {
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #perSecond: number;
  #windowStart = Number.NEGATIVE_INFINITY;
  #logged = 0;
  #suppressed = 0;

  constructor(log: Logger, clock: Clock, perSecond: number) {
    this.#log = log;
    this.#clock = clock;
    this.#perSecond = perSecond;
  }

  /** Log `msg` at warn unless this second's budget is spent. */
  warn(fields: Record<string, unknown>, msg: string): void {
    const now = this.#clock.now();
    if (now - this.#windowStart >= 1000) {
      this.flush();
      this.#windowStart = now;
      this.#logged = 0;
    }
    if (this.#logged < this.#perSecond) {
      this.#logged++;
      this.#log.warn(fields, msg);
    } else {
      this.#suppressed++;
    }
  }

  /** Log how many warnings were suppressed since the last flush, if any. */
  flush(): void {
    if (this.#suppressed > 0) {
      this.#log.warn({ suppressed: this.#suppressed }, 'warnings suppressed (rate limit)');
      this.#suppressed = 0;
    }
  }
}
