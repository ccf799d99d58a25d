/** Internals for zpatterns packages and tests. No semver promise. */
export {};
