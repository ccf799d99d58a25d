/**
 * Internals for the zpatterns daemons (no semver promise): the broker's per-service hook that the
 * mdbroker daemon's latency histograms are built on.
 */
export { observeBroker } from './broker.js';
export type { BrokerObserver } from './broker-options.js';
