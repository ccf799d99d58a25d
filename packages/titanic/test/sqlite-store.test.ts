/** The SQLite store: durability across a reopen, its settings, the exclusive lock, the retention sweep. */
import { describe, expect, it } from 'vitest';
import { generateUuid } from '../src/protocol.js';
import { SqliteStore } from '../src/sqlite-store.js';
import { b, collect, replied, useTempDirs } from './store-helpers.js';

const tempDir = useTempDirs();

describe('SqliteStore retention sweep', () => {
  it('deletes in transactions of expireBatchSize and lets the event loop run between them', async () => {
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

describe('SqliteStore options', () => {
  it('rejects a bad option with InvalidArgumentError, naming it and the value', () => {
    expect(() => new SqliteStore({ dataDir: '' })).toThrow('SqliteStore: dataDir must be a directory, got ""');
    expect(() => new SqliteStore({ dataDir: tempDir(), recoveryPageSize: 0 })).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_ARGUMENT',
        message: 'SqliteStore: recoveryPageSize must be a whole number > 0, got 0',
      }),
    );
    // undefined keeps the default.
    expect(() => new SqliteStore({ dataDir: tempDir(), fsync: undefined, healthProbeMs: undefined })).not.toThrow();
  });
});
