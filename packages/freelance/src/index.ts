/** @zpatterns/freelance: work in progress. */
export const PACKAGE = '@zpatterns/freelance';
