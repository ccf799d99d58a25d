/**
 * Dispatch leases on PostgreSQL, for several Titanic instances on one queue: `claim` takes pending
 * requests nobody holds (or whose lease expired), round-robin across services, with
 * `SELECT ... FOR UPDATE SKIP LOCKED`, stamping `claimed_by` and `claimed_until = now() + lease`.
 * Lease times use the database clock, so instances need not agree on the time.
 */
import type { PostgresPool } from './postgres-pool.js';
import { decodeFrames, type StoredRequest } from './store.js';

/** The lease statements on the requests table `t` (see `LeaseStore` for their meaning). */
export class PostgresLeases {
  readonly #pool: () => PostgresPool;
  readonly #t: string;

  /** @param pool - the pool of the running store (throws when it is not running) */
  constructor(pool: () => PostgresPool, table: string) {
    this.#pool = pool;
    this.#t = table;
  }

  /**
   * Claims up to `limit` pending requests that no instance holds, or whose lease expired, for
   * `instance` until `leaseMs` from now (database clock): round-robin across services (the oldest
   * of each service first, then the second oldest of each, ...), counting what this instance
   * already `held` of each as taken turns, so that a service with a long backlog does not take
   * every claim (nor every slot) from the others. Rows another transaction is claiming at the
   * same moment are skipped, never waited for.
   */
  async claim(
    instance: string,
    leaseMs: number,
    limit: number,
    exclude: readonly Buffer[],
    held: ReadonlyMap<string, number>,
  ): Promise<StoredRequest[]> {
    const t = this.#t;
    const heldServices = [...held.keys()].map((key) => Buffer.from(key, 'latin1'));
    const rows = await this.#pool().query<{ uuid: string; service: Buffer; body: Buffer }>(
      // The services with pending requests, one index probe each (a loose index scan).
      `WITH RECURSIVE s(service) AS (
         (SELECT service FROM ${t} WHERE reply IS NULL ORDER BY service LIMIT 1)
         UNION ALL
         SELECT (SELECT p.service FROM ${t} p WHERE p.reply IS NULL AND p.service > s.service
                 ORDER BY p.service LIMIT 1)
         FROM s WHERE s.service IS NOT NULL
       ),
       h AS (SELECT * FROM unnest($5::bytea[], $6::int[]) AS h(service, n)),
       c AS (
         SELECT r.seq,
                row_number() OVER (PARTITION BY s.service ORDER BY r.seq)
                  + coalesce((SELECT h.n FROM h WHERE h.service = s.service), 0) AS turn
         FROM s CROSS JOIN LATERAL (
           SELECT seq FROM ${t}
           WHERE service = s.service AND reply IS NULL AND (claimed_until IS NULL OR claimed_until < now())
           ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED
         ) r
         WHERE s.service IS NOT NULL AND s.service <> ALL($4::bytea[])
         ORDER BY turn, r.seq LIMIT $3
       )
       UPDATE ${t} t SET claimed_by = $1, claimed_until = now() + $2 * interval '1 millisecond'
       FROM c WHERE t.seq = c.seq RETURNING t.seq, t.uuid, t.service, t.body`,
      [instance, leaseMs, limit, exclude, heldServices, [...held.values()]],
    );
    return rows.map((row) => ({ uuid: row.uuid, service: row.service, body: decodeFrames(row.body) }));
  }

  /** Extends the leases `instance` still holds among `uuids`; resolves with those it holds. */
  async renew(instance: string, uuids: readonly string[], leaseMs: number): Promise<string[]> {
    if (uuids.length === 0) return [];
    const rows = await this.#pool().query<{ uuid: string }>(
      `WITH l AS (SELECT seq FROM ${this.#t} WHERE uuid = ANY($1::text[]) AND claimed_by = $2 AND reply IS NULL
                  ORDER BY seq FOR UPDATE)
       UPDATE ${this.#t} t SET claimed_until = now() + $3 * interval '1 millisecond'
       FROM l WHERE t.seq = l.seq AND t.claimed_by = $2 RETURNING t.uuid`,
      [uuids, instance, leaseMs],
    );
    return rows.map((row) => row.uuid);
  }

  /** Gives up `instance`'s leases on `uuids`: claimable again after `delayMs`. */
  async release(instance: string, uuids: readonly string[], delayMs: number): Promise<void> {
    if (uuids.length === 0) return;
    await this.#pool().query(
      `WITH l AS (SELECT seq FROM ${this.#t} WHERE uuid = ANY($1::text[]) AND claimed_by = $2 AND reply IS NULL
                  ORDER BY seq FOR UPDATE)
       UPDATE ${this.#t} t SET claimed_by = NULL,
         claimed_until = CASE WHEN $3 > 0 THEN now() + $3 * interval '1 millisecond' END
       FROM l WHERE t.seq = l.seq AND t.claimed_by = $2`,
      [uuids, instance, Math.max(0, Math.round(delayMs))],
    );
  }

  /** Requests without a reply, store-wide, for the backlog bound. */
  async countPending(): Promise<number> {
    const rows = await this.#pool().query<{ n: string }>(`SELECT count(*) AS n FROM ${this.#t} WHERE reply IS NULL`);
    return Number(rows[0]?.n ?? 0);
  }

  /** Requests without a reply by service (latin1), for the per-service bound. */
  async countPendingByService(): Promise<Map<string, number>> {
    const rows = await this.#pool().query<{ service: Buffer; n: string }>(
      `SELECT service, count(*) AS n FROM ${this.#t} WHERE reply IS NULL GROUP BY service`,
    );
    return new Map(rows.map((r) => [r.service.toString('latin1'), Number(r.n)]));
  }

  /** Unexpired dispatch leases by the instance holding them (for a status page). */
  async holders(): Promise<{ instance: string; leases: number }[]> {
    const rows = await this.#pool().query<{ instance: string; n: string }>(
      `SELECT claimed_by AS instance, count(*) AS n FROM ${this.#t}
       WHERE reply IS NULL AND claimed_by IS NOT NULL AND claimed_until > now() GROUP BY claimed_by ORDER BY claimed_by`,
    );
    return rows.map((r) => ({ instance: r.instance, leases: Number(r.n) }));
  }
}
