/**
 * The source of the store commit-latency histogram (`zpatterns_titanic_store_commit_seconds`):
 * the daemon hands Titanic its store with every `write(batch)` timed. One `write` is one commit of
 * a group of writes: the fsync for SQLite, the COMMIT round trip for PostgreSQL.
 */
import type { StoreWrite, TitanicStore } from '@zpatterns/titanic';

/**
 * `store` as it is, except that each `write(batch)` reports its duration and outcome to `observe`
 * (which must not throw), and so does each `writeNow(batch)` of a store that has it. Every other
 * member is the store's own.
 */
export function timedCommits<S extends TitanicStore>(store: S, observe: (seconds: number, ok: boolean) => void): S {
  const write = async (batch: readonly StoreWrite[]): Promise<void> => {
    const started = performance.now();
    let ok = false;
    try {
      await store.write(batch);
      ok = true;
    } finally {
      observe((performance.now() - started) / 1000, ok);
    }
  };
  // A store that commits synchronously (SQLite, memory) is written through `writeNow`: timed the same.
  const writeNow =
    store.writeNow &&
    ((batch: readonly StoreWrite[]): void => {
      const started = performance.now();
      let ok = false;
      try {
        store.writeNow?.(batch);
        ok = true;
      } finally {
        observe((performance.now() - started) / 1000, ok);
      }
    });
  return new Proxy(store, {
    get(target, key) {
      if (key === 'write') return write;
      if (key === 'writeNow') return writeNow;
      // On the store itself, so that its getters and methods see their own private fields.
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
