/** Internals for zpatterns packages and tests. No semver promise. */
export { ReplicaCursor } from './cursor.js';
export { Follower } from './follower.js';
export { CloneJournal } from './journal.js';
export { KvStore, ttlRemainingMs } from './store.js';
export type { CursorVerdict } from './cursor.js';
export type { FollowerEvent, FollowerOptions, FollowerStats, ReplicaSource } from './follower-options.js';
export type { JournalContents, JournalWrite } from './journal.js';
export type { StoredEntry } from './store.js';
