/** Every shape `npm run bench -- vs-c` knows, in the order they run. */
import type { Shape } from './harness.js';
import { shape as brokerScale } from './broker-scale.js';
import { shape as flserver } from './flserver.js';
import { shape as latency } from './latency.js';
import { shape as mdbroker } from './mdbroker.js';

export const shapes: readonly Shape[] = [mdbroker, flserver, latency, brokerScale];
