/**
 * The daemon's word on its link to the broker: one line per change for all of Titanic's internal
 * MDP workers, not one per worker (their own lines are demoted to debug, see `ownWorkerChatter`).
 *
 *   every worker registered ────────▶ info 'registered with the broker'   (the first time)
 *   a worker lost the broker ───────▶ warn 'broker lost, reconnecting'    (silent, or DISCONNECT)
 *   every worker registered again ──▶ info 'broker back'
 *
 * Built on `TitanicServer`'s `connected` / `disconnected` status events, which already fold the
 * workers into one link (`reason`: `silent` or `disconnect`).
 */
import type { Logger } from '@zpatterns/core';
import type { TitanicServer } from '@zpatterns/titanic';

/** The lines of Titanic's own workers that `logBrokerLink` says once for all of them. */
const PER_WORKER_LINES = new Set(['broker silent, reconnecting', 'DISCONNECT from broker, registering again']);

/**
 * For the root logger's `demote`: a line one of Titanic's own workers (services `titanic.*`)
 * logs about the broker link, which the daemon says once for all of them.
 */
export function ownWorkerChatter(msg: string, fields: Record<string, unknown>): boolean {
  return PER_WORKER_LINES.has(msg) && String(fields['service']).startsWith('titanic.');
}

/**
 * Log the link's changes until the server closes. Subscribe before `server.start()` so the first
 * registration is not missed; the returned promise settles when the server has closed.
 */
export async function logBrokerLink(server: TitanicServer, logger: Logger, workers: number): Promise<void> {
  let registered = false;
  let lostAt: number | undefined;
  for await (const event of server.status()) {
    if (event.type === 'connected') {
      if (!registered) {
        registered = true;
        logger.info({ broker: event.peer, workers }, 'registered with the broker');
      } else if (lostAt !== undefined) {
        logger.info({ broker: event.peer, workers, lostMs: Date.now() - lostAt }, 'broker back');
      }
      lostAt = undefined;
    } else if (event.type === 'disconnected') {
      lostAt = Date.now();
      logger.warn(
        {
          broker: event.peer,
          reason: event.reason,
          ...(event.silentMs === undefined ? {} : { silentMs: event.silentMs }),
        },
        'broker lost, reconnecting',
      );
    }
  }
}
