/** Every shape `npm run bench -- vs-c` knows, in the order they run. */
import type { Shape } from './harness.js';
import { shape as flserver } from './flserver.js';
import { shape as mdbroker } from './mdbroker.js';
import { shape as mdclient } from './mdclient.js';
import { shape as mdworker } from './mdworker.js';

export const shapes: readonly Shape[] = [mdbroker, flserver, mdworker, mdclient];
