/**
 * The last `capacity` ids remembered, each with a value, for duplicate detection: one more forgets
 * the oldest, found by its slot in a ring. (A `Map` or `Set` in insertion order with its oldest
 * taken by `keys().next()` costs a walk over every entry deleted before it: about 50 us an update
 * once 100,000 are held.)
 */
export class RecentIds<V> {
  readonly #capacity: number;
  /** Each id held, and its slot in `#ids` and `#values`. */
  readonly #slots = new Map<string, number>();
  readonly #ids: (string | undefined)[] = [];
  readonly #values: (V | undefined)[] = [];
  /** The slot the next id takes: the oldest one's. */
  #next = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Ids held. */
  get size(): number {
    return this.#slots.size;
  }

  has(id: string): boolean {
    return this.#slots.has(id);
  }

  /** The value of `id`, or `undefined` when it is not held. */
  get(id: string): V | undefined {
    const slot = this.#slots.get(id);
    return slot === undefined ? undefined : this.#values[slot];
  }

  /** Remember `id` as the newest (one held already moves there); past `capacity` the oldest is forgotten. */
  set(id: string, value: V): void {
    this.#free(this.#slots.get(id));
    const slot = this.#next;
    const oldest = this.#ids[slot];
    if (oldest !== undefined) this.#slots.delete(oldest);
    this.#ids[slot] = id;
    this.#values[slot] = value;
    this.#slots.set(id, slot);
    this.#next = slot + 1 === this.#capacity ? 0 : slot + 1;
  }

  /** Forget `id`; `true` when it was held. */
  delete(id: string): boolean {
    const slot = this.#slots.get(id);
    if (slot === undefined) return false;
    this.#slots.delete(id);
    this.#free(slot);
    return true;
  }

  /** Forget every id. */
  clear(): void {
    this.#slots.clear();
    this.#ids.length = 0;
    this.#values.length = 0;
    this.#next = 0;
  }

  #free(slot: number | undefined): void {
    if (slot === undefined) return;
    this.#ids[slot] = undefined;
    this.#values[slot] = undefined;
  }
}
