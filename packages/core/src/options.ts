/**
 * `{ ...defaults, ...definedOnly(options) }`: an option passed as `undefined` (common with
 * `exactOptionalPropertyTypes` and flags that may be absent) keeps its default instead of
 * overwriting it.
 */
export function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
