/** Every shape `npm run bench -- vs-c` knows, in the order they run. */
import type { Shape } from './harness.js';
import { shape as mdbroker } from './mdbroker.js';
import { shape as mdworker } from './mdworker.js';
import { shape as mdclient } from './mdclient.js';
import { shape as latency } from './latency.js';
import { shape as brokerScale } from './broker-scale.js';
import { shape as titanic } from './titanic.js';
import { shape as titanicScale } from './titanic-scale.js';
import { shape as clone } from './clone.js';
import { shape as cloneSnapshot } from './clone-snapshot.js';
import { shape as cloneClient } from './clone-client.js';
import { shape as ppqueue } from './ppqueue.js';
import { shape as flserver } from './flserver.js';

export const shapes: readonly Shape[] = [
  mdbroker,
  mdworker,
  mdclient,
  latency,
  brokerScale,
  titanic,
  titanicScale,
  clone,
  cloneSnapshot,
  cloneClient,
  ppqueue,
  flserver,
];
