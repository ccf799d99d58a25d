/**
 * What operators and status pages read from the PostgreSQL store: pending requests by service,
 * purging a service, and the durability settings of the sessions.
 */
import type { PostgresPool } from './postgres-pool.js';
import type { ServiceCounts, ServicePending } from './store.js';

/** What `PostgresStore.settings()` reports (PostgreSQL's own spelling of each value). */
export interface PostgresSettings {
  /** `synchronous_commit`: `on` for Titanic's sessions. */
  synchronousCommit: string;
  /** `fsync` of the server: `on` unless the cluster was configured to lose data. */
  fsync: string;
  /** `synchronous_standby_names`: the standbys a COMMIT also waits for (empty: none). */
  synchronousStandbyNames: string;
  /** `statement_timeout` of the sessions (`queryTimeoutMs`). */
  statementTimeout: string;
  /** `idle_in_transaction_session_timeout` of the sessions (`idleInTransactionTimeoutMs`). */
  idleInTransactionSessionTimeout: string;
}

/**
 * The durability settings of Titanic's sessions as the server reports them: `synchronousCommit`
 * ('on' unless a standby setting adds more), `fsync`, `synchronousStandbyNames`, and the timeouts.
 */
export async function sessionSettings(pool: PostgresPool): Promise<PostgresSettings> {
  const rows = await pool.query<Record<string, string>>(
    `SELECT current_setting('synchronous_commit') AS sc, current_setting('fsync') AS fsync,
              current_setting('synchronous_standby_names') AS standbys,
              current_setting('statement_timeout') AS st,
              current_setting('idle_in_transaction_session_timeout') AS iit`,
  );
  const row = rows[0] ?? {};
  return {
    synchronousCommit: row['sc'] ?? '',
    fsync: row['fsync'] ?? '',
    synchronousStandbyNames: row['standbys'] ?? '',
    statementTimeout: row['st'] ?? '',
    idleInTransactionSessionTimeout: row['iit'] ?? '',
  };
}

/** Pending requests by service, most first (`titanic pending`). */
export async function pendingByService(pool: PostgresPool, t: string): Promise<ServicePending[]> {
  const rows = await pool.query<{ service: Buffer; n: string; oldest: string; newest: string }>(
    `SELECT service, count(*) AS n, min(created_ms) AS oldest, max(created_ms) AS newest
       FROM ${t} WHERE reply IS NULL GROUP BY service ORDER BY n DESC, service`,
  );
  return rows.map((r) => ({
    service: r.service,
    count: Number(r.n),
    oldestMs: Number(r.oldest),
    newestMs: Number(r.newest),
  }));
}

/** Pending and done requests by service (for a status page). */
export async function statusByService(pool: PostgresPool, t: string): Promise<ServiceCounts[]> {
  const rows = await pool.query<{ service: Buffer; pending: string; done: string; oldest: string | null }>(
    `SELECT service, count(*) FILTER (WHERE reply IS NULL) AS pending, count(*) FILTER (WHERE reply IS NOT NULL) AS done,
              min(created_ms) FILTER (WHERE reply IS NULL) AS oldest
       FROM ${t} GROUP BY service ORDER BY service`,
  );
  return rows.map((r) => ({
    service: r.service.toString('latin1'),
    pending: Number(r.pending),
    done: Number(r.done),
    oldestPendingMs: r.oldest === null ? null : Number(r.oldest),
  }));
}

/** Deletes every pending request of `service`; resolves with their UUIDs, oldest first. */
export async function purgeService(pool: PostgresPool, t: string, service: Buffer): Promise<string[]> {
  const rows = await pool.query<{ uuid: string; seq: string }>(
    `DELETE FROM ${t} WHERE reply IS NULL AND service = $1 RETURNING uuid, seq`,
    [service],
  );
  return rows.sort((x, y) => Number(x.seq) - Number(y.seq)).map((r) => r.uuid);
}
