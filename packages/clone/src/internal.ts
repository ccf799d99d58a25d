/** Internals for zpatterns packages and tests. No semver promise. */
export { CloneJournal } from './journal.js';
export { KvStore, ttlRemainingMs } from './store.js';
export type { JournalContents, JournalWrite } from './journal.js';
export type { StoredEntry } from './store.js';
