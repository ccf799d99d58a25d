/** Group commit on top of a store: one batch per event-loop turn, acknowledged only after it. */
import { describe, expect, it } from 'vitest';
import { GroupCommitter } from '../src/group-commit.js';
import { MemoryStore } from '../src/memory-store.js';
import { generateUuid } from '../src/protocol.js';
import { SqliteStore } from '../src/sqlite-store.js';
import type { StoreWrite, TitanicStore } from '../src/store.js';
import { b, useTempDirs } from './store-helpers.js';

const tempDir = useTempDirs();

/** `store` as a durable store is seen: committed through `write` only, so the committer groups its writes. */
function grouped(store: MemoryStore): TitanicStore {
  return Object.assign(Object.create(store) as MemoryStore, {
    writeNow: undefined,
    write: (batch: readonly StoreWrite[]) => store.write(batch),
  });
}

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
      writeNow: undefined,
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
    const committer = new GroupCommitter(grouped(store));
    const writes = [committer.write({ type: 'close', uuid: 'A' }), committer.write({ type: 'close', uuid: 'B' })];
    await committer.close();
    expect(store.stats.writes).toBe(2);
    expect(store.stats.commits).toBe(1);
    await Promise.all(writes);
  });

  it('rejects every write of a failed batch and keeps serving', async () => {
    const store = await MemoryStore.start();
    const committer = new GroupCommitter(grouped(store));
    await store.close();
    const failing = [committer.write({ type: 'close', uuid: 'A' }), committer.write({ type: 'close', uuid: 'B' })];
    for (const p of failing) await expect(p).rejects.toThrow(/closed/);
    expect(committer.stats.failedBatches).toBe(1);
    await committer.close();
    await expect(committer.write({ type: 'close', uuid: 'C' })).rejects.toThrow(/closed/);
  });

  it("commits a synchronous store's batch in its turn's callback, and rejects every write of a failed one", async () => {
    const memory = await MemoryStore.start();
    let failing = false;
    const batches: number[] = [];
    const store = Object.assign(Object.create(memory) as MemoryStore, {
      commitIsFree: undefined,
      writeNow: (batch: readonly StoreWrite[]): void => {
        if (failing) throw new Error('disk full');
        batches.push(batch.length);
        memory.writeNow(batch);
      },
    });
    const committer = new GroupCommitter(store);
    expect(committer.immediate).toBe(false);
    await Promise.all([committer.write({ type: 'close', uuid: 'A' }), committer.write({ type: 'close', uuid: 'B' })]);
    expect(batches).toEqual([2]);
    failing = true;
    const failed = [committer.write({ type: 'close', uuid: 'C' }), committer.write({ type: 'close', uuid: 'D' })];
    for (const p of failed) await expect(p).rejects.toThrow(/disk full/);
    expect(committer.stats).toEqual({ batches: 1, writes: 2, failedBatches: 1 });
    await committer.close();
    await memory.close();
  });

  it('writes a store that commits at once (in memory) in the call, one commit per write, no batching', async () => {
    const store = await MemoryStore.start();
    const committer = new GroupCommitter(store);
    expect(committer.immediate).toBe(true);
    committer.writeNow({ type: 'request', uuid: 'A', service: b('echo'), body: [b('x')] });
    expect(await store.get('A')).toEqual({ state: 'pending' });
    const written = committer.write({ type: 'close', uuid: 'A' });
    // Applied in the call, before any turn: the promise only reports it.
    expect(store.getNow('A')).toEqual({ state: 'unknown' });
    await written;
    expect(store.stats.commits).toBe(2);
    expect(committer.stats).toEqual({ batches: 2, writes: 2, failedBatches: 0 });
    await store.close();
    expect(() => committer.writeNow({ type: 'close', uuid: 'B' })).toThrow(/closed/);
    await expect(committer.write({ type: 'close', uuid: 'C' })).rejects.toThrow(/closed/);
    expect(committer.stats.failedBatches).toBe(2);
    await committer.close();
    expect(() => committer.writeNow({ type: 'close', uuid: 'D' })).toThrow(/closed/);
    expect(() => new GroupCommitter(grouped(store)).writeNow({ type: 'close', uuid: 'E' })).toThrow(/at once/);
  });
});
