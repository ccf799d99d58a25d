#!/usr/bin/env node
/**
 * A measuring stick, not a benchmark of the daemon: the CPU our broker's own JavaScript costs per
 * request, with no socket in the way. The broker's parts (ServiceQueues, WorkerRegistry,
 * Dispatcher, BrokerInbound, from packages/majordomo/dist) are fed the messages a ROUTER would
 * read: N workers register (READY), then in rounds a pipelined client's 1,000 requests (most
 * queue) and the workers' 1,000 replies. Sends do nothing. The same message making without the
 * broker is measured alternately and subtracted; the median of 15 such pairs is printed.
 *
 *   node apps/bench/scripts/broker-js-cost.mjs [repo root] [workers]   (build first)
 *
 * The root may be another checkout (e.g. an older build) to compare two versions of the broker.
 */
import { Buffer } from 'node:buffer';
import console from 'node:console';
import { dirname, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(process.argv[2] ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'));
const workers = Number(process.argv[3] ?? 1);
const load = (path) => import(pathToFileURL(resolve(root, path)).href);
const core = await load('packages/core/dist/internal.js');
const { resolveBrokerOptions, createBrokerStats } = await load('packages/majordomo/dist/broker-options.js');
const { ServiceQueues } = await load('packages/majordomo/dist/broker-queues.js');
const { WorkerRegistry } = await load('packages/majordomo/dist/broker-registry.js');
const { Dispatcher } = await load('packages/majordomo/dist/broker-dispatch.js');
const { BrokerInbound } = await load('packages/majordomo/dist/broker-inbound.js');

const options = resolveBrokerOptions({ bind: 'tcp://127.0.0.1:5555' });
const log = {
  isLevelEnabled: () => false,
  info() {},
  warn() {},
  debug() {},
  error() {},
  child() {
    return log;
  },
};
let sent = 0;
const clock = options.clock;
const ctx = {
  options,
  stats: createBrokerStats(),
  clock,
  log,
  debugLog: undefined,
  warnings: new core.WarningLimiter(log, clock, 10),
  workerWarnings: new core.WarningLimiter(log, clock, 10),
  overloadWarnings: new core.WarningLimiter(log, clock, 1),
  observer: {},
  isOpen: () => true,
  emit() {},
  toClient: (message) => {
    sent += message.length;
  },
  toWorker: (message) => {
    sent += message.length;
  },
};
const queues = new ServiceQueues(ctx);
const registry = new WorkerRegistry(ctx);
const inbound = new BrokerInbound(ctx, queues, registry, new Dispatcher(ctx, queues, registry), false);

// libzmq's generated identities: a zero byte and a 32-bit counter.
const identity = (n) => Buffer.from([0, 0, 0, 0, n]);
const ids = Array.from({ length: workers }, (_, i) => identity(10 + i));
const client = identity(2);
for (const id of ids)
  inbound.fromClientSocket([id, Buffer.alloc(0), Buffer.from('MDPW01'), Buffer.from([1]), Buffer.from('echo')]);
// Fresh frames per message, as zeromq.js gives them.
const request = () => [
  Buffer.from(client),
  Buffer.alloc(0),
  Buffer.from('MDPC01'),
  Buffer.from('echo'),
  Buffer.from('Hello world'),
];
let next = 0;
const reply = () => [
  Buffer.from(ids[next++ % workers]),
  Buffer.alloc(0),
  Buffer.from('MDPW01'),
  Buffer.from([3]),
  Buffer.from(client),
  Buffer.alloc(0),
  Buffer.from('Hello world'),
];
const K = 1000;
const broker = () => {
  for (let i = 0; i < K; i++) inbound.fromClientSocket(request());
  for (let i = 0; i < K; i++) inbound.fromClientSocket(reply());
};
const bare = () => {
  for (let i = 0; i < K; i++) sent += request().length;
  for (let i = 0; i < K; i++) sent += reply().length;
};
/** CPU ns per request over `n` rounds. */
const run = (f, n) => {
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) f();
  const d = process.cpuUsage(t);
  return ((d.user + d.system) * 1000) / (n * K);
};
run(broker, 300);
run(bare, 300);
const out = [];
for (let r = 0; r < 15; r++) out.push(run(broker, 50) - run(bare, 50));
out.sort((a, b) => a - b);
if (sent === 0 || ctx.stats.replies !== ctx.stats.requests)
  throw new Error(`answered ${ctx.stats.replies} of ${ctx.stats.requests}`);
console.log(
  `broker JavaScript per request: ${out[7].toFixed(0)} ns (median of 15; ${out[0].toFixed(0)}-${out[14].toFixed(0)}), ${workers} worker(s), ${root}`,
);
