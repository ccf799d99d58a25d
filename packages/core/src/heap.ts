/**
 * A binary min-heap keyed by a number (a deadline, usually). O(log n) push and pop; `peek` is O(1).
 * Used where entries expire at different times (request TTLs, Clone TTLs); where every entry has
 * the same lifetime, `ExpiryList` is cheaper.
 */
export class MinHeap<T> {
  readonly #keys: number[] = [];
  readonly #values: T[] = [];

  /** Number of entries. */
  get length(): number {
    return this.#keys.length;
  }

  /** Add `value` under `key` (smaller keys come out first; ties in no particular order). O(log n). */
  push(key: number, value: T): void {
    const keys = this.#keys;
    const values = this.#values;
    let i = keys.length;
    keys.push(key);
    values.push(value);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const parentKey = keys[parent] as number;
      if (parentKey <= key) break;
      keys[i] = parentKey;
      values[i] = values[parent] as T;
      i = parent;
    }
    keys[i] = key;
    values[i] = value;
  }

  /** Remove every entry. */
  clear(): void {
    this.#keys.length = 0;
    this.#values.length = 0;
  }

  /** Smallest key, or `undefined` when empty. */
  peekKey(): number | undefined {
    return this.#keys[0];
  }

  /** The value with the smallest key, without removing it, or `undefined` when empty. */
  peek(): T | undefined {
    return this.#values[0];
  }

  /** Remove and return the value with the smallest key, or `undefined` when empty. O(log n). */
  pop(): T | undefined {
    const keys = this.#keys;
    const values = this.#values;
    if (keys.length === 0) return undefined;
    const top = values[0];
    const lastKey = keys.pop() as number;
    const lastValue = values.pop() as T;
    const n = keys.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && (keys[right] as number) < (keys[left] as number) ? right : left;
        if ((keys[child] as number) >= lastKey) break;
        keys[i] = keys[child] as number;
        values[i] = values[child] as T;
        i = child;
      }
      keys[i] = lastKey;
      values[i] = lastValue;
    }
    return top;
  }
}
