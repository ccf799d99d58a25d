/** Moved to core (the Pirate queues use it too); kept so majordomo's imports stay short. */
export { WarningLimiter } from '@zpatterns/core';
