/**
 * Titanic's look at its broker while starting: it asks `mmi.service titanic.request` once, for at
 * most a second, and never waits longer before going on.
 *
 *   answers 404 ─────────────▶ start
 *   answers 200 (SQLite) ────▶ another Titanic is registered: wait for its workers to expire
 *                              (a crashed instance's linger), else refuse to start
 *   no answer in 1 s ────────▶ "broker not answering", start anyway (the workers register once it
 *                              is up), and keep asking in the background: "still no answer" at
 *                              growing intervals (2 s, 4 s, ... 30 s), "broker answering" once it does
 *
 * Every wait ends at once when `signal` fires (Ctrl-C during start-up).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { StartupError } from '@zpatterns/app-kit';
import type { Logger, SecurityOptions } from '@zpatterns/core';
import { MajordomoClient } from '@zpatterns/majordomo';
import { MMI } from '@zpatterns/majordomo/protocol';
import { TSP_SERVICE } from '@zpatterns/titanic/protocol';

/** How long one question waits for the broker's answer. */
export const BROKER_ANSWER_MS = 1000;
/** The background questions: first after this long, then twice as long each time, up to the cap. */
const RETRY_FIRST_MS = 2000;
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
    attemptTimeoutMs: BROKER_ANSWER_MS,
    retries: 0,
    security: options.security,
  });
  const ask = async (abort: AbortSignal): Promise<string | undefined> => {
    try {
      return (await client.request(MMI.SERVICE, [TSP_SERVICE.REQUEST], { signal: abort }))[0]?.toString() ?? '';
    } catch (err) {
      if (abort.aborted) throw err;
      return undefined;
    }
  };
  const startedAt = Date.now();
  try {
    log.debug({ answerMs: BROKER_ANSWER_MS }, 'asking the broker');
    let answer = await ask(signal);
    if (answer === undefined) {
      log.warn(
        { waitedMs: Date.now() - startedAt },
        'broker not answering: starting anyway, Titanic registers once it is up',
      );
      return watchInBackground(client, ask, log, startedAt);
    }
    if (!options.refuseOthers) return await closed(client);
    const deadline = startedAt + options.expiryMs;
    for (let asked = 0; answer === MMI.OK; asked++) {
      if (Date.now() >= deadline) {
        throw new StartupError(
          'ERR_START',
          `another Titanic is registered for ${TSP_SERVICE.REQUEST} at ${endpoint}; two SQLite stores behind one broker would split requests and replies (share one store with --store postgres://..., or use another broker)`,
        );
      }
      if (asked === 0)
        log.info({ expiryMs: options.expiryMs }, `${TSP_SERVICE.REQUEST} has workers; waiting for them to expire`);
      await sleep(options.pollMs, undefined, { signal });
      answer = (await ask(signal)) ?? '';
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
