/** The store contract, run against the three implementations, and the frame blob encoding. */
import { expectClosesOnce, type LongLived } from '@zpatterns/testkit';
import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/memory-store.js';
import { PostgresStore } from '../src/postgres-store.js';
import { generateUuid } from '../src/protocol.js';
import { SqliteStore } from '../src/sqlite-store.js';
import { decodeFrames, encodeFrames, type TitanicStore } from '../src/store.js';
import { postgresUrl } from './postgres-env.js';
import { b, collect, freshSchema, useTempDirs } from './store-helpers.js';

const tempDir = useTempDirs();

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
