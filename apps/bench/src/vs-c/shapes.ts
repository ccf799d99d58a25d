/** Every shape `npm run bench -- vs-c` knows, in the order they run. */
import type { Shape } from './harness.js';
import { shape as flserver } from './flserver.js';
import { shape as mdbroker } from './mdbroker.js';
import { shape as ppqueue } from './ppqueue.js';

export const shapes: readonly Shape[] = [mdbroker, flserver, ppqueue];
