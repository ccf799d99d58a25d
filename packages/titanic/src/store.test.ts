/** The store contract, run against both implementations, plus SQLite durability and group commit. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { expectClosesOnce, type LongLived } from '@zpatterns/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { postgresUrl } from '../test/postgres-env.js';
import { GroupCommitter } from './group-commit.js';
import { PostgresStore } from './postgres-store.js';
import { generateUuid } from './protocol.js';
import { SqliteStore } from './sqlite-store.js';
import { decodeFrames, encodeFrames, MemoryStore, type StoreWrite, type TitanicStore } from './store.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'titanic-store-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function collect(store: TitanicStore): Promise<string[]> {
  const out: string[] = [];
  for await (const ref of store.pending()) out.push(ref.uuid);
  return out;
}

describe('frame blob encoding', () => {
  it('is *(u32be length, bytes), golden', () => {
    expect(encodeFrames([b('ab'), Buffer.alloc(0), Buffer.from([0xff])]).toString('hex')).toBe(
      '00000002616200000000' + '00000001ff',
    );
    expect(encodeFrames([]).length).toBe(0);
  });

  it('round-trips and rejects truncated blobs', () => {
    const frames = [b('Hello'), Buffer.alloc(0), Buffer.alloc(70_000, 7)];
    expect(decodeFrames(encodeFrames(frames))).toEqual(frames);
    expect(() => decodeFrames(Buffer.from([0, 0, 0]))).toThrow(/truncated length/);
    expect(() => decodeFrames(Buffer.from([0, 0, 0, 5, 1]))).toThrow(/truncated frame/);
  });
});

let schemas = 0;
/** A fresh schema per store, so every PostgreSQL test starts from an empty database. */
function freshSchema(): string {
  return `t${process.pid}_${Date.now().toString(36)}_${schemas++}`;
}

const pgUrl = postgresUrl();
const implementations: [string, () => Promise<TitanicStore>][] = [
  ['MemoryStore', () => MemoryStore.start()],
  ['SqliteStore', () => SqliteStore.start({ dataDir: tempDir() })],
];
// Listed everywhere, skipped where this machine has no PostgreSQL (never under CI=true).
implementations.push(['PostgresStore', () => PostgresStore.start({ url: pgUrl ?? '', schema: freshSchema() })]);

describe.each(implementations)('%s', (name, make) => {
  beforeEach((ctx) => {
    if (name === 'PostgresStore' && pgUrl === undefined) ctx.skip();
  });
  it('stores a request, reports pending, then the reply, then forgets it on close', async () => {
    const store = await make();
    const uuid = generateUuid();
    expect(await store.get(uuid)).toEqual({ state: 'unknown' });
    await store.write([{ type: 'request', uuid, service: b('echo'), body: [b('a'), b('b')] }]);
    expect(await store.get(uuid)).toEqual({ state: 'pending' });
    expect(await store.getRequest(uuid)).toEqual({ uuid, service: b('echo'), body: [b('a'), b('b')] });
    expect(await store.counts()).toEqual({ pending: 1, replied: 0 });
    await store.write([{ type: 'reply', uuid, body: [b('A'), Buffer.alloc(0)] }]);
    expect(await store.get(uuid)).toEqual({ state: 'replied', body: [b('A'), Buffer.alloc(0)] });
    expect(await store.getRequest(uuid)).toBeUndefined();
    expect(await store.counts()).toEqual({ pending: 0, replied: 1 });
    // A second reply (a duplicate delivery) does not overwrite the first.
    await store.write([{ type: 'reply', uuid, body: [b('other')] }]);
    expect(await store.get(uuid)).toEqual({ state: 'replied', body: [b('A'), Buffer.alloc(0)] });
    await store.write([{ type: 'close', uuid }]);
    expect(await store.get(uuid)).toEqual({ state: 'unknown' });
    expect(await store.counts()).toEqual({ pending: 0, replied: 0 });
    // Closing twice, replying after close: no-ops.
    await store.write([
      { type: 'close', uuid },
      { type: 'reply', uuid, body: [b('late')] },
    ]);
    expect(await store.get(uuid)).toEqual({ state: 'unknown' });
    expect(store.stats).toMatchObject({ commits: 5, requests: 1, replies: 3, closes: 2 });
    await store.close();
    await expect(store.get(uuid)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('start() is idempotent, close() closes once, closed() resolves', async () => {
    const store = await make();
    expect(store.start()).toBe(store.start());
    await expectClosesOnce(store as TitanicStore & LongLived);
  });

  it('stats is a snapshot: a kept object does not change, a new read does', async () => {
    const store = await make();
    const before = store.stats;
    await store.write([{ type: 'request', uuid: generateUuid(), service: b('s'), body: [] }]);
    expect(before.commits).toBe(0);
    expect(store.stats.commits).toBe(1);
    expect(store.stats).not.toBe(store.stats);
    await store.close();
  });

  it('expires replies recorded before the cutoff, never pending requests', async () => {
    const store = await make();
    const [replied, pending] = [generateUuid(), generateUuid()];
    await store.write([
      { type: 'request', uuid: replied, service: b('s'), body: [] },
      { type: 'request', uuid: pending, service: b('s'), body: [] },
      { type: 'reply', uuid: replied, body: [b('r')] },
    ]);
    expect(await store.expireReplies(Date.now() - 60_000)).toBe(0);
    expect(await store.expireReplies(Date.now() + 1)).toBe(1);
    expect(await store.get(replied)).toEqual({ state: 'unknown' });
    expect(await store.get(pending)).toEqual({ state: 'pending' });
    await store.close();
  });

  it('lists pending requests oldest first, without the replied ones', async () => {
    const store = await make();
    const uuids = Array.from({ length: 2500 }, () => generateUuid());
    await store.write(uuids.map((uuid, i) => ({ type: 'request', uuid, service: b(`s${i % 3}`), body: [] })));
    await store.write(uuids.filter((_, i) => i % 2 === 0).map((uuid) => ({ type: 'reply', uuid, body: [] })));
    const pending = await collect(store);
    expect(pending).toEqual(uuids.filter((_, i) => i % 2 === 1));
    await store.close();
  });
});

describe('retention sweep in batches', () => {
  const replied = async (store: TitanicStore, n: number): Promise<void> => {
    const uuids = Array.from({ length: n }, () => generateUuid());
    await store.write([
      ...uuids.map((uuid): StoreWrite => ({ type: 'request', uuid, service: b('s'), body: [] })),
      ...uuids.map((uuid): StoreWrite => ({ type: 'reply', uuid, body: [b('r')] })),
    ]);
  };

  it('SqliteStore deletes in transactions of expireBatchSize and lets the event loop run between them', async () => {
    const store = await SqliteStore.start({ dataDir: tempDir(), expireBatchSize: 100 });
    await replied(store, 1050);
    // Counts turns of the event loop while the sweep runs.
    let turns = 0;
    let spinner: NodeJS.Immediate | undefined;
    const spin = (): void => {
      turns++;
      spinner = setImmediate(spin);
    };
    spin();
    try {
      expect(await store.expireReplies(Date.now() + 1)).toBe(1050);
    } finally {
      clearImmediate(spinner);
    }
    expect(turns).toBeGreaterThanOrEqual(10); // 11 transactions, the loop turned between them
    expect(await store.counts()).toEqual({ pending: 0, replied: 0 });
    await store.close();
  });

  it.skipIf(pgUrl === undefined)(
    'PostgresStore sweeps on one instance at a time (advisory lock) and in batches',
    async () => {
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
    },
  );
});

describe('SqliteStore durability', () => {
  it('keeps everything committed across a reopen', async () => {
    const dataDir = tempDir();
    const first = await SqliteStore.start({ dataDir });
    const [u1, u2] = [generateUuid(), generateUuid()];
    await first.write([
      { type: 'request', uuid: u1, service: b('echo'), body: [b('one')] },
      { type: 'request', uuid: u2, service: b('echo'), body: [b('two')] },
      { type: 'reply', uuid: u1, body: [b('ONE')] },
    ]);
    await first.close();
    const second = await SqliteStore.start({ dataDir });
    expect(await second.get(u1)).toEqual({ state: 'replied', body: [b('ONE')] });
    expect(await collect(second)).toEqual([u2]);
    await second.close();
  });

  it('runs in WAL mode with synchronous = FULL, so every commit is fsynced', async () => {
    const store = await SqliteStore.start({ dataDir: tempDir() });
    expect(store.settings()).toEqual({ journalMode: 'wal', synchronous: 2, lockingMode: 'exclusive' });
    await store.close();
    const relaxed = await SqliteStore.start({ dataDir: tempDir(), fsync: false });
    expect(relaxed.settings().synchronous).toBe(1);
    await relaxed.close();
  });

  it('refuses a second process on the same data directory', async () => {
    const dataDir = tempDir();
    const first = await SqliteStore.start({ dataDir });
    await first.write([{ type: 'request', uuid: generateUuid(), service: b('x'), body: [] }]);
    await expect(SqliteStore.start({ dataDir })).rejects.toThrow(/cannot open the Titanic store/);
    await first.close();
    const again = await SqliteStore.start({ dataDir });
    await again.close();
  });
});

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

describe('GroupCommitter', () => {
  it('commits the writes of one event-loop turn as one batch, and acknowledges only after it', async () => {
    const store = await SqliteStore.start({ dataDir: tempDir() });
    const committer = new GroupCommitter(store);
    const uuids = Array.from({ length: 50 }, () => generateUuid());
    let acknowledged = 0;
    const writes = uuids.map((uuid) =>
      committer.write({ type: 'request', uuid, service: b('echo'), body: [] }).then(() => acknowledged++),
    );
    expect(acknowledged).toBe(0);
    expect(store.stats.commits).toBe(0);
    await Promise.all(writes);
    expect(acknowledged).toBe(50);
    expect(store.stats.commits).toBe(1);
    expect(store.stats.largestBatch).toBe(50);
    await committer.close();
    await store.close();
  });

  it('batches writes that arrive while a commit runs into the next commit', async () => {
    const committed: number[] = [];
    let release: () => void = () => undefined;
    const slow = await MemoryStore.start();
    const gate = { first: true };
    const store: TitanicStore = Object.assign(Object.create(slow) as MemoryStore, {
      write: async (batch: readonly StoreWrite[]): Promise<void> => {
        if (gate.first) {
          gate.first = false;
          await new Promise<void>((resolve) => (release = resolve));
        }
        committed.push(batch.length);
        await slow.write(batch);
      },
    });
    const committer = new GroupCommitter(store);
    const first = committer.write({ type: 'close', uuid: 'A' });
    await new Promise((resolve) => setImmediate(resolve));
    const later = Array.from({ length: 10 }, (_, i) => committer.write({ type: 'close', uuid: String(i) }));
    release();
    await Promise.all([first, ...later]);
    expect(committed).toEqual([1, 10]);
    await committer.close();
  });

  it('close() commits what is queued, including a flush already scheduled', async () => {
    const store = await MemoryStore.start();
    const committer = new GroupCommitter(store);
    const writes = [committer.write({ type: 'close', uuid: 'A' }), committer.write({ type: 'close', uuid: 'B' })];
    await committer.close();
    expect(store.stats.writes).toBe(2);
    expect(store.stats.commits).toBe(1);
    await Promise.all(writes);
  });

  it('rejects every write of a failed batch and keeps serving', async () => {
    const store = await MemoryStore.start();
    const committer = new GroupCommitter(store);
    await store.close();
    const failing = [committer.write({ type: 'close', uuid: 'A' }), committer.write({ type: 'close', uuid: 'B' })];
    for (const p of failing) await expect(p).rejects.toThrow(/closed/);
    expect(committer.stats.failedBatches).toBe(1);
    await committer.close();
    await expect(committer.write({ type: 'close', uuid: 'C' })).rejects.toThrow(/closed/);
  });
});
