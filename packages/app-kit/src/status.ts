/**
 * `GET /status` and the status page at `GET /` of a daemon's metrics server: a versioned JSON
 * document of what the daemon knows now, and one self-contained HTML page that shows it as live
 * tables. Served only where the metrics server runs (`--metrics-port`), on the same address.
 *
 *   browser ──GET /────────▶ status page (inline CSS and JS, no external assets)
 *           ──GET /status──▶ {"version":1,"daemon":"mdbroker",...}   every second, from the page
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { STATUS_PAGE_HTML } from './status-page.js';

/** The version of the `/status` document; a change that breaks a reader makes it 2. */
export const STATUS_VERSION = 1;

/** What a daemon gives `serveMetrics` as `status`: its own part of the `/status` document. */
export type StatusSource = () => Record<string, unknown> | Promise<Record<string, unknown>>;

/** The fields every `/status` document starts with. */
export interface StatusHeader {
  /** `STATUS_VERSION`. */
  readonly version: typeof STATUS_VERSION;
  /** Which daemon answers (`mdbroker`, `titanic`, ...). */
  readonly daemon: string;
  /** Its process id. */
  readonly pid: number;
  /** When the document was made (ISO 8601, UTC). */
  readonly time: string;
  /** How long the process has run (ms). */
  readonly uptimeMs: number;
}

/** A daemon's `status` source: the common header, then the daemon's own sections from `read()`. */
export function statusSource(daemon: string, read: StatusSource): StatusSource {
  return async () => {
    const header: StatusHeader = {
      version: STATUS_VERSION,
      daemon,
      pid: process.pid,
      time: new Date().toISOString(),
      uptimeMs: Math.round(process.uptime() * 1000),
    };
    return { ...header, ...(await read()) };
  };
}

/**
 * Rates from counters read at each `/status` request: per key, the change over at least
 * `windowMs` (the last rate is kept until a window has passed, so many readers see one rate).
 */
export class RateMeter {
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #last = new Map<string, { at: number; count: number; rate: number }>();

  constructor(windowMs = 1000, now: () => number = () => performance.now()) {
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** Per second, for `key` whose counter reads `count` now (0 on the first read). */
  rate(key: string, count: number): number {
    const now = this.#now();
    const last = this.#last.get(key);
    if (last === undefined) {
      this.#last.set(key, { at: now, count, rate: 0 });
      return 0;
    }
    if (now - last.at < this.#windowMs) return last.rate;
    const rate = Math.max(0, ((count - last.count) * 1000) / (now - last.at));
    this.#last.set(key, { at: now, count, rate: Math.round(rate * 10) / 10 });
    return Math.round(rate * 10) / 10;
  }

  /** Forget keys not in `keep` (services that went away). */
  retain(keep: ReadonlySet<string>): void {
    for (const key of this.#last.keys()) if (!keep.has(key)) this.#last.delete(key);
  }
}

/**
 * Answer `/` (the page) and `/status` (the JSON); returns false for any other path. The page's
 * Content-Security-Policy lets it load nothing but `/status` from its own origin.
 */
export function serveStatus(
  path: string,
  _req: IncomingMessage,
  res: ServerResponse,
  status: StatusSource,
  logger: Logger,
): boolean {
  if (path === '/') {
    res
      .writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy':
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
      })
      .end(STATUS_PAGE_HTML);
    return true;
  }
  if (path !== '/status') return false;
  Promise.resolve()
    .then(status)
    .then(
      (doc) =>
        res
          .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          .end(`${JSON.stringify(doc)}\n`),
      (err: unknown) => {
        logger.warn({ err }, 'status collection failed');
        res.writeHead(500).end();
      },
    );
  return true;
}
