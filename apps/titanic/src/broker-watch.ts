/**
 * Titanic's look at its broker while starting: one `mmi.service titanic.request` question, which
 * waits at most as long as a crashed instance's workers stay registered (`expiryMs`, 12.5 s by
 * default), and says what it waits for while it waits.
 *
 *   answers 404 ─────────────▶ start
 *   answers 200 (SQLite) ────▶ another Titanic is registered: wait for its workers to expire
 *                              (a crashed instance's linger), else refuse to start
 *   no answer after 1 s ─────▶ "broker not answering; waiting for it", then "still no answer from
 *                              the broker" at 4 s, 8 s, ...
 *   no answer by expiryMs ───▶ "broker not answering: starting anyway" (the workers register once
 *                              it is up); asked again in the background at growing intervals (up
 *                              to every 30 s), "broker answering" once it does
 *
 * Every wait ends at once when `signal` fires (Ctrl-C during start-up).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { StartupError } from '@zpatterns/app-kit';
import type { Logger, SecurityOptions } from '@zpatterns/core';
import { MajordomoClient } from '@zpatterns/majordomo';
import { MMI } from '@zpatterns/majordomo/protocol';
import { TSP_SERVICE } from '@zpatterns/titanic/protocol';

/** Silence from the broker for this long is said at once. */
export const BROKER_SILENT_MS = 1000;
/** The next "still no answer" lines: after this long, then twice as long each time, up to the cap. */
const RETRY_FIRST_MS = 4000;
const RETRY_CAP_MS = 30_000;

/** Options of `checkBroker(options)`. */
export interface BrokerCheckOptions {
  endpoint: string;
  /** SQLite: refuse to start beside another registered Titanic (each would own half the traffic). */
  refuseOthers: boolean;
  /** How long a crashed Titanic's workers stay registered at the broker. */
  expiryMs: number;
  /** Pause between two questions while another Titanic's workers expire. */
  pollMs: number;
  logger: Logger;
  security: SecurityOptions | undefined;
  /** Ends every wait (start-up abandoned). */
  signal: AbortSignal;
}

/** What `checkBroker` leaves running: the background questions while the broker is silent. */
export interface BrokerWatch {
  close(): Promise<void>;
}

/**
 * Ask the broker once; act on the answer as the module comment says. Rejects with `StartupError`
 * when another SQLite Titanic stays registered, and with the abort reason when `signal` fires.
 */
export async function checkBroker(options: BrokerCheckOptions): Promise<BrokerWatch> {
  const { endpoint, logger, signal } = options;
  const log = logger.child({ component: 'broker-check', broker: endpoint });
  const client = await MajordomoClient.start({
    broker: endpoint,
    attemptTimeoutMs: options.expiryMs,
    retries: 0,
    security: options.security,
  });
  const startedAt = Date.now();
  let warned = false;
  const ask = async (abort: AbortSignal, timeoutMs: number): Promise<string | undefined> => {
    try {
      const reply = await client.request(MMI.SERVICE, [TSP_SERVICE.REQUEST], {
        signal: abort,
        attemptTimeoutMs: timeoutMs,
      });
      return reply[0]?.toString() ?? '';
    } catch (err) {
      if (abort.aborted) throw err;
      return undefined;
    }
  };
  /** The first question, with what it waits for said at 1 s, 4 s, 8 s, ... */
  const firstAnswer = async (): Promise<string | undefined> => {
    const said = new AbortController();
    const sayWhileWaiting = (async (): Promise<void> => {
      await sleep(BROKER_SILENT_MS, undefined, { signal: said.signal });
      warned = true;
      log.warn({ waitedMs: Date.now() - startedAt, waitMs: options.expiryMs }, 'broker not answering; waiting for it');
      for (let pauseMs = RETRY_FIRST_MS - BROKER_SILENT_MS; ; pauseMs = Math.min(pauseMs * 2, RETRY_CAP_MS)) {
        await sleep(pauseMs, undefined, { signal: said.signal });
        log.warn({ waitedMs: Date.now() - startedAt }, 'still no answer from the broker');
      }
    })().catch(() => undefined);
    try {
      return await ask(signal, options.expiryMs);
    } finally {
      said.abort();
      await sayWhileWaiting;
    }
  };
  try {
    log.debug({ waitMs: options.expiryMs }, 'asking the broker');
    let answer = await firstAnswer();
    if (answer === undefined) {
      log.warn(
        { waitedMs: Date.now() - startedAt },
        'broker not answering: starting anyway, Titanic registers once it is up',
      );
      return watchInBackground(client, (abort) => ask(abort, RETRY_FIRST_MS), log, startedAt);
    }
    if (warned) log.info({ waitedMs: Date.now() - startedAt }, 'broker answering');
    if (!options.refuseOthers) return await closed(client);
    const deadline = startedAt + options.expiryMs;
    for (let asked = 0; answer === MMI.OK; asked++) {
      if (Date.now() >= deadline) {
        throw new StartupError(
          'ERR_START',
          `another Titanic is registered for ${TSP_SERVICE.REQUEST} at ${endpoint}; two SQLite stores behind one broker would split requests and replies (share one store with --store postgres://..., or use another broker)`,
        );
      }
      if (asked === 0) {
        log.info({ expiryMs: options.expiryMs }, `${TSP_SERVICE.REQUEST} has workers; waiting for them to expire`);
      }
      await sleep(options.pollMs, undefined, { signal });
      answer = (await ask(signal, options.expiryMs)) ?? '';
    }
    return await closed(client);
  } catch (err) {
    await client.close();
    throw err;
  }
}

async function closed(client: MajordomoClient): Promise<BrokerWatch> {
  await client.close();
  return { close: async () => undefined };
}

/** Ask again at growing intervals until the broker answers or the watch is closed. */
function watchInBackground(
  client: MajordomoClient,
  ask: (abort: AbortSignal) => Promise<string | undefined>,
  log: Logger,
  startedAt: number,
): BrokerWatch {
  const stop = new AbortController();
  const loop = (async (): Promise<void> => {
    for (let pauseMs = RETRY_FIRST_MS; ; pauseMs = Math.min(pauseMs * 2, RETRY_CAP_MS)) {
      await sleep(pauseMs, undefined, { signal: stop.signal });
      const answer = await ask(stop.signal);
      if (answer !== undefined) {
        log.info({ waitedMs: Date.now() - startedAt }, 'broker answering');
        return;
      }
      log.warn({ waitedMs: Date.now() - startedAt }, 'still no answer from the broker');
    }
  })().catch(() => undefined);
  return {
    close: async () => {
      stop.abort();
      await loop;
      await client.close();
    },
  };
}
