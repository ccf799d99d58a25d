/** @zpatterns/bstar: work in progress. */
export const PACKAGE = '@zpatterns/bstar';
