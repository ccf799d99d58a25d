/**
 * The retention sweep on PostgreSQL: deleting replies no client closed, recorded before a cutoff.
 * One instance at a time: the sweep holds a session advisory lock for its duration, and an
 * instance that finds it taken skips the round. Rows go in transactions of `batchSize`, each well
 * inside the statement timeout, skipping rows other transactions hold (a `titanic.close` of the
 * same request) rather than waiting for them.
 */
import { toError, type Logger } from '@zpatterns/core';
import type { PostgresPool } from './postgres-pool.js';

/** What one sweep needs. */
export interface SweepOptions {
  /** The requests table. */
  readonly table: string;
  /** The advisory lock key (one sweeper per schema). */
  readonly lockKey: string;
  /** Rows deleted per transaction. */
  readonly batchSize: number;
  /** False once the store is closing: the rest is left for the next run. */
  readonly running: () => boolean;
  readonly log: Logger;
}

/**
 * Deletes the replies recorded before `repliedBeforeMs` (wall-clock epoch ms); resolves with how
 * many, 0 when another instance is sweeping.
 */
export async function sweepReplies(
  pool: PostgresPool,
  repliedBeforeMs: number,
  options: SweepOptions,
): Promise<number> {
  const { table, lockKey, batchSize } = options;
  const { client, release } = await pool.session();
  let broken: Error | undefined;
  try {
    const rows = await pool.run(() =>
      client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [lockKey]),
    );
    if (rows.rows[0]?.locked !== true) {
      options.log.debug('retention sweep skipped: another instance is sweeping');
      return 0;
    }
    let deleted = 0;
    try {
      for (;;) {
        const result = await pool.run(() =>
          client.query(
            `WITH l AS (SELECT seq FROM ${table} WHERE reply IS NOT NULL AND replied_ms < $1
                        LIMIT $2 FOR UPDATE SKIP LOCKED)
             DELETE FROM ${table} t USING l WHERE t.seq = l.seq`,
            [repliedBeforeMs, batchSize],
          ),
        );
        const n = result.rowCount ?? 0;
        deleted += n;
        if (n < batchSize || !options.running()) return deleted;
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]).catch((err: unknown) => {
        broken = toError(err);
      });
    }
  } catch (err) {
    broken = toError(err);
    throw err;
  } finally {
    // A session that may still hold the lock (or is broken) is not handed to anyone else.
    release(broken);
  }
}
