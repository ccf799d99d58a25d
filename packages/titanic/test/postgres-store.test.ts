/**
 * The PostgreSQL store: session settings, migrations, leases, deadlocks, lost connections and the
 * retention sweep. Needs the test PostgreSQL (tools/postgres-setup.ts); skipped without one.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PostgresStore } from '../src/postgres-store.js';
import { generateUuid } from '../src/protocol.js';
import type { StoreWrite } from '../src/store.js';
import { postgresUrl } from './postgres-env.js';
import { b, collect, freshSchema, replied } from './store-helpers.js';

const pgUrl = postgresUrl();

describe.skipIf(pgUrl === undefined)('PostgresStore', () => {
  const open = (schema = freshSchema()): Promise<PostgresStore> =>
    PostgresStore.start({ url: pgUrl ?? '', schema, maxConnections: 4 });

  it("runs its sessions with synchronous_commit = on even when the role's default is off, and reports it", async () => {
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    const role = `titanic_async_${process.pid}`;
    try {
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.query(`CREATE ROLE ${role} LOGIN SUPERUSER`);
      await admin.query(`ALTER ROLE ${role} SET synchronous_commit = off`);
      const url = (pgUrl ?? '').replace('postgres://postgres@', `postgres://${role}@`);
      // The role's default really is off for a plain session.
      const plain = new pg.Client({ connectionString: url });
      await plain.connect();
      expect((await plain.query('SHOW synchronous_commit')).rows[0]).toEqual({ synchronous_commit: 'off' });
      await plain.end();
      const store = await PostgresStore.start({ url, schema: freshSchema(), maxConnections: 2 });
      try {
        const settings = await store.settings();
        expect(settings.synchronousCommit).toBe('on');
        expect(settings.statementTimeout).toBe('5s');
        expect(settings.idleInTransactionSessionTimeout).toBe('10s');
        expect(settings.fsync).toMatch(/^(on|off)$/);
      } finally {
        await store.close();
      }
    } finally {
      await admin.query(`DROP OWNED BY ${role}`).catch(() => undefined);
      await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
      await admin.end();
    }
  });

  it('migrates once when several instances start at once, and reopens idempotently', async () => {
    const schema = freshSchema();
    const stores = await Promise.all([open(schema), open(schema), open(schema)]);
    const uuid = generateUuid();
    await stores[0]?.write([{ type: 'request', uuid, service: b('echo'), body: [b('x')] }]);
    expect(await stores[2]?.get(uuid)).toEqual({ state: 'pending' });
    await Promise.all(stores.map((s) => s.close()));
    const again = await open(schema);
    expect(await collect(again)).toEqual([uuid]);
    expect(again.healthy).toBe(true);
    await again.close();
    expect(again.healthy).toBe(false);
  });

  it('claims each pending request for one instance at a time, and takes over an expired lease', async () => {
    const schema = freshSchema();
    const [a, c] = [await open(schema), await open(schema)];
    const uuids = Array.from({ length: 40 }, () => generateUuid());
    await a.write(uuids.map((uuid) => ({ type: 'request', uuid, service: b('echo'), body: [b(uuid)] })));
    const [fromA, fromC] = await Promise.all([a.claim('A', 60_000, 25), c.claim('C', 60_000, 25)]);
    const claimed = [...fromA, ...fromC].map((r) => r.uuid);
    expect(new Set(claimed).size).toBe(40);
    expect(claimed.sort()).toEqual([...uuids].sort());
    expect(fromA.concat(fromC).every((r) => r.body[0]?.toString('latin1') === r.uuid)).toBe(true);
    // Everything is held: nothing more to claim.
    expect(await c.claim('C', 60_000, 100)).toEqual([]);
    // A reply releases the row for good; a short lease is taken over once it expires.
    const [first] = uuids;
    await a.write([{ type: 'reply', uuid: first ?? '', body: [b('done')] }]);
    const extra = generateUuid();
    await a.write([{ type: 'request', uuid: extra, service: b('echo'), body: [] }]);
    expect((await a.claim('A', 1, 10)).map((r) => r.uuid)).toEqual([extra]);
    await expect.poll(async () => (await c.claim('C', 60_000, 10)).map((r) => r.uuid)).toEqual([extra]);
    await a.close();
    await c.close();
  });

  it('claims round-robin across services, so a long backlog of one does not take every claim', async () => {
    const store = await open();
    const slow = Array.from({ length: 1000 }, () => generateUuid());
    const live = Array.from({ length: 3 }, () => generateUuid());
    // The busy service's backlog is older than everything else.
    await store.write(slow.map((uuid) => ({ type: 'request', uuid, service: b('slow'), body: [] })));
    await store.write(live.map((uuid) => ({ type: 'request', uuid, service: b('live'), body: [] })));
    const first = await store.claim('A', 60_000, 8);
    const of = (rows: { service: Buffer }[], name: string): number =>
      rows.filter((r) => r.service.equals(b(name))).length;
    expect(first).toHaveLength(8);
    expect(of(first, 'live')).toBe(3);
    // The oldest of each service first.
    expect(
      first
        .filter((r) => r.service.equals(b('slow')))
        .map((r) => r.uuid)
        .sort(),
    ).toEqual(slow.slice(0, 5).sort());
    // Excluded services are skipped; the rest goes on in order.
    expect(await store.claim('A', 60_000, 8, [b('slow')])).toEqual([]);
    expect((await store.claim('A', 60_000, 2)).map((r) => r.uuid).sort()).toEqual(slow.slice(5, 7).sort());
    // What the instance already holds counts: with 7 of 'slow' held, a new 'live' request goes first.
    const more = generateUuid();
    await store.write([{ type: 'request', uuid: more, service: b('live'), body: [] }]);
    const held = new Map([['slow', 7]]);
    expect((await store.claim('A', 60_000, 1, [], held)).map((r) => r.uuid)).toEqual([more]);
    await store.close();
  });

  it('renews only leases the instance still holds, and releases with a delay', async () => {
    const schema = freshSchema();
    const [a, c] = [await open(schema), await open(schema)];
    const [u1, u2, u3] = [generateUuid(), generateUuid(), generateUuid()];
    await a.write([u1, u2, u3].map((uuid) => ({ type: 'request' as const, uuid, service: b('echo'), body: [] })));
    expect((await a.claim('A', 60_000, 3)).map((r) => r.uuid)).toEqual([u1, u2, u3]);
    // u2 answered (by anyone): no lease to renew; the others still A's.
    await c.write([{ type: 'reply', uuid: u2 ?? '', body: [b('r')] }]);
    expect((await a.renew('A', [u1 ?? '', u2 ?? '', u3 ?? ''], 60_000)).sort()).toEqual([u1, u3].sort());
    expect(await c.renew('C', [u1 ?? ''], 60_000)).toEqual([]);
    // Released at once: C takes u1; released with a delay: u3 only later.
    await a.release('A', [u1 ?? ''], 0);
    await a.release('A', [u3 ?? ''], 400);
    expect((await c.claim('C', 60_000, 10)).map((r) => r.uuid)).toEqual([u1]);
    expect(await a.renew('A', [u1 ?? '', u3 ?? ''], 60_000)).toEqual([]);
    await expect.poll(async () => (await c.claim('C', 60_000, 10)).map((r) => r.uuid)).toEqual([u3]);
    await a.close();
    await c.close();
  });

  it('two instances writing overlapping batches in opposite orders do not fail on deadlocks', async () => {
    const schema = freshSchema();
    const [a, c] = [await open(schema), await open(schema)];
    for (let round = 0; round < 10; round++) {
      const uuids = Array.from({ length: 100 }, () => generateUuid());
      await a.write(uuids.map((uuid) => ({ type: 'request' as const, uuid, service: b('echo'), body: [] })));
      const reversed = [...uuids].reverse();
      const replies = (list: string[]): StoreWrite[] =>
        list.map((uuid) => ({ type: 'reply' as const, uuid, body: [b(uuid)] }));
      const closes = (list: string[]): StoreWrite[] => list.map((uuid) => ({ type: 'close' as const, uuid }));
      // A closes the first quarter, C the last: the middle half is replied and never closed.
      await Promise.all([
        a.write([...replies(uuids), ...closes(uuids.slice(0, 25))]),
        c.write([...closes(reversed.slice(0, 25)), ...replies(reversed)]),
        a.renew('A', reversed, 1000),
        c.release('C', uuids, 0),
      ]);
      // Each reply is its own UUID's, whoever wrote it first; a closed request is gone.
      for (const uuid of uuids.slice(25, 75)) {
        const state = await a.get(uuid);
        expect(state.state).toBe('replied');
        if (state.state === 'replied') expect(state.body.map((f) => f.toString('latin1'))).toEqual([uuid]);
      }
      for (const uuid of [...uuids.slice(0, 25), ...uuids.slice(75)]) expect((await a.get(uuid)).state).toBe('unknown');
    }
    await a.close();
    await c.close();
  });

  it('replaces connections the database dropped, and reports unhealthy meanwhile', async () => {
    const applicationName = freshSchema();
    const store = await PostgresStore.start({ url: pgUrl ?? '', schema: freshSchema(), applicationName });
    const [u1, u2] = [generateUuid(), generateUuid()];
    await store.write([{ type: 'request', uuid: u1, service: b('echo'), body: [] }]);
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    const { rows } = await admin.query<{ killed: boolean }>(
      'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1',
      [applicationName],
    );
    await admin.end();
    expect(rows.length).toBeGreaterThan(0);
    await expect.poll(() => store.healthy).toBe(false);
    await store.write([{ type: 'request', uuid: u2, service: b('echo'), body: [] }]);
    expect(store.healthy).toBe(true);
    expect(await collect(store)).toEqual([u1, u2]);
    await store.close();
  });

  it('refuses to open when the database cannot be reached', async () => {
    const url = 'postgres://postgres@%2Fnonexistent-zpatterns/postgres';
    await expect(PostgresStore.start({ url, connectTimeoutMs: 1000 })).rejects.toThrow(/cannot open the Titanic store/);
  });
});

describe('PostgresStore retention sweep', () => {
  it.skipIf(pgUrl === undefined)('sweeps on one instance at a time (advisory lock) and in batches', async () => {
    const schema = freshSchema();
    const [a, c] = await Promise.all([
      PostgresStore.start({ url: pgUrl ?? '', schema, maxConnections: 2, expireBatchSize: 100 }),
      PostgresStore.start({ url: pgUrl ?? '', schema, maxConnections: 2, expireBatchSize: 100 }),
    ]);
    await replied(a, 450);
    // Another session holds the sweep lock: this instance skips the round.
    const other = new pg.Client({ connectionString: pgUrl });
    await other.connect();
    await other.query('SELECT pg_advisory_lock(hashtext($1))', [`titanic-sweep:${schema}`]);
    expect(await c.expireReplies(Date.now() + 1)).toBe(0);
    expect((await c.counts()).replied).toBe(450);
    await other.query('SELECT pg_advisory_unlock(hashtext($1))', [`titanic-sweep:${schema}`]);
    await other.end();
    // Two at once: both finish, every row is deleted once.
    const [x, y] = await Promise.all([a.expireReplies(Date.now() + 1), c.expireReplies(Date.now() + 1)]);
    expect(x + y).toBe(450);
    expect(await a.counts()).toEqual({ pending: 0, replied: 0 });
    await a.close();
    await c.close();
  });
});

describe('PostgresStore options', () => {
  it('rejects a bad option with InvalidArgumentError, naming it and the value', () => {
    expect(() => new PostgresStore({ url: '' })).toThrow(
      'PostgresStore: url must be a PostgreSQL connection URL, got ""',
    );
    expect(() => new PostgresStore({ url: 'postgres://u@h/db', schema: 'Bad-Name' })).toThrow(
      'PostgresStore: schema must be a lower-case SQL name ([a-z_][a-z0-9_]*, at most 63 characters), got "Bad-Name"',
    );
    expect(() => new PostgresStore({ url: 'postgres://u@h/db', queryTimeoutMs: 0.4 })).toThrow(
      'PostgresStore: queryTimeoutMs must be a finite number >= 1, got 0.4',
    );
    expect(() => new PostgresStore({ url: 'postgres://u@h/db', maxConnections: undefined })).not.toThrow();
  });
});
