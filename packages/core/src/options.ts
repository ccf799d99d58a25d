/**
 * The type of `definedOnly(options)`: every key whose type admits `undefined` becomes optional
 * and loses the `undefined`; the other keys are kept as they are.
 */
export type DefinedOnly<T> = {
  [K in keyof T as undefined extends T[K] ? never : K]: T[K];
} & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

/**
 * `{ ...defaults, ...definedOnly(options) }`: an option passed as `undefined` (common with
 * `exactOptionalPropertyTypes` and flags that may be absent) keeps its default instead of
 * overwriting it.
 */
export function definedOnly<T extends object>(options: T): DefinedOnly<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as DefinedOnly<T>;
}
