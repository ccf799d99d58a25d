/** Options after the defaults are applied: every key present and none `undefined`. */
export type Settings<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };
