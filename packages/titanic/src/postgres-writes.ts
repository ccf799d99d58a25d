/**
 * A batch of store writes as few statements as it can be: consecutive writes of one type become
 * one statement over arrays (`unnest`), so a batch of 500 requests is one round trip, not 500.
 * Multi-row statements lock their rows in `seq` order, so concurrent instances do not deadlock on
 * each other's batches.
 */
import type { PgQueryable } from './postgres-driver.js';
import { encodeFrames, type StoreWrite } from './store.js';

/** Applies `batch` in order on `client` (inside the caller's transaction), stamped `now`. */
export async function applyBatch(
  client: PgQueryable,
  table: string,
  batch: readonly StoreWrite[],
  now: number,
): Promise<void> {
  let at = 0;
  while (at < batch.length) {
    const type = batch[at]?.type;
    let end = at;
    while (end < batch.length && batch[end]?.type === type) end++;
    const statement = runStatement(table, batch.slice(at, end), now);
    if (statement !== undefined) await client.query(statement.sql, statement.params);
    at = end;
  }
}

/** A statement and its parameters. */
export interface PgStatement {
  readonly sql: string;
  readonly params: unknown[];
}

/** The one statement that applies a run of writes of the same type (undefined for none). */
export function runStatement(t: string, run: readonly StoreWrite[], now: number): PgStatement | undefined {
  const uuids: string[] = [];
  const blobs: Buffer[] = [];
  const services: Buffer[] = [];
  const seen = new Set<string>();
  for (const w of run) {
    // Within one statement the first write of a UUID wins, as it would if applied one by one.
    if (w.type !== 'close' && seen.has(w.uuid)) continue;
    seen.add(w.uuid);
    uuids.push(w.uuid);
    if (w.type === 'request') {
      services.push(w.service);
      blobs.push(encodeFrames(w.body));
    } else if (w.type === 'reply') {
      blobs.push(encodeFrames(w.body));
    }
  }
  switch (run[0]?.type) {
    case 'request':
      return {
        sql: `INSERT INTO ${t} (uuid, service, body, created_ms)
         SELECT u, s, b, $4 FROM unnest($1::text[], $2::bytea[], $3::bytea[]) WITH ORDINALITY AS v(u, s, b, n)
         ORDER BY n ON CONFLICT (uuid) DO NOTHING`,
        params: [uuids, services, blobs, now],
      };
    case 'reply':
      return {
        sql: `WITH l AS (SELECT seq, uuid FROM ${t} WHERE uuid = ANY($1::text[]) AND reply IS NULL ORDER BY seq FOR UPDATE)
         UPDATE ${t} t SET reply = v.r, body = '\\x', replied_ms = $3, claimed_by = NULL, claimed_until = NULL
         FROM l JOIN unnest($1::text[], $2::bytea[]) AS v(u, r) ON v.u = l.uuid WHERE t.seq = l.seq`,
        params: [uuids, blobs, now],
      };
    case 'close':
      return {
        sql: `WITH l AS (SELECT seq FROM ${t} WHERE uuid = ANY($1::text[]) ORDER BY seq FOR UPDATE)
         DELETE FROM ${t} t USING l WHERE t.seq = l.seq`,
        params: [uuids],
      };
    case undefined:
      return undefined;
  }
}
