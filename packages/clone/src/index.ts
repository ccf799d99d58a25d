/** @zpatterns/clone: work in progress. */
export const PACKAGE = '@zpatterns/clone';
