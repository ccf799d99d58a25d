/**
 * Poll a condition until it holds. For state that has no event to await (a counter in another
 * component); never a substitute for awaiting an event that exists.
 */
export async function eventually<T>(
  probe: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const { timeoutMs = 10_000, intervalMs = 20, what = 'condition' } = options;
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) {
      throw new Error(`${what} did not hold within ${timeoutMs} ms`, { cause: last });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
