#!/usr/bin/env node
/**
 * A Majordomo worker service to copy: serves one service through a broker, with CURVE, Prometheus
 * metrics, and a graceful drain on SIGTERM (the request in hand is finished and answered, the
 * broker is told DISCONNECT, then the process exits 0).
 *
 *   node examples/dist/md-worker.js --broker tcp://127.0.0.1:5555 --service echo
 *   node examples/dist/md-worker.js --broker tcp://127.0.0.1:5555 --service echo \
 *     --curve-secret-key-file worker.key --curve-server-key broker.pub --metrics-port 9200
 *
 * The service answers each request with its frames, upper-cased, after --work-ms of "work".
 */
import { createServer } from 'node:http';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { MajordomoWorker } from '@zpatterns/majordomo';

const { values: flags } = parseArgs({
  options: {
    broker: { type: 'string', default: 'tcp://127.0.0.1:5555' },
    service: { type: 'string', default: 'echo' },
    'work-ms': { type: 'string', default: '0' },
    'drain-timeout-ms': { type: 'string', default: '10000' },
    'curve-secret-key-file': { type: 'string' },
    'curve-server-key': { type: 'string' },
    'metrics-port': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
  },
});
const workMs = Number(flags['work-ms']);
const log = pino({ name: 'md-worker', level: flags['log-level'] });

// CURVE: this worker's secret key file (zpat keygen) and the broker's public key (Z85 or .pub file).
const keyFile = flags['curve-secret-key-file'];
const serverKey = flags['curve-server-key'];
if ((keyFile === undefined) !== (serverKey === undefined)) {
  process.stderr.write('md-worker: --curve-secret-key-file and --curve-server-key go together\n');
  process.exit(2);
}
const security = keyFile === undefined ? undefined : { curve: { keyFile, serverPublicKey: serverKey } };

// Metrics: the process's own, and what this service did.
const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'example_' });
const requests = new Counter({
  name: 'example_requests_total',
  help: 'requests answered',
  registers: [registry],
});
const seconds = new Histogram({
  name: 'example_request_duration_seconds',
  help: 'time spent on one request',
  registers: [registry],
});

const worker = new MajordomoWorker({
  broker: flags.broker,
  service: flags.service,
  security,
  drainTimeoutMs: Number(flags['drain-timeout-ms']),
  logger: log,
  handler: async (body, { signal }) => {
    const done = seconds.startTimer();
    log.debug({ frames: body.length }, 'request');
    // Real work takes the signal: it is aborted if the request is abandoned.
    if (workMs > 0) await sleep(workMs, undefined, { signal });
    requests.inc();
    done();
    return body.map((frame) => Buffer.from(frame.toString('utf8').toUpperCase()));
  },
});
// Connects and registers (READY); the handler answers from here on.
await worker.start();

let metricsUrl: string | undefined;
const metrics = createServer((req, res) => {
  if (req.url !== '/metrics') {
    res.writeHead(404).end();
    return;
  }
  registry.metrics().then(
    (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
    () => res.writeHead(500).end(),
  );
});
if (flags['metrics-port'] !== undefined) {
  await new Promise<void>((resolve) => metrics.listen(Number(flags['metrics-port']), '127.0.0.1', resolve));
  const address = metrics.address();
  if (address !== null && typeof address === 'object') metricsUrl = `http://127.0.0.1:${address.port}`;
}

// SIGTERM/SIGINT: drain. close() finishes the request in hand and answers it, says DISCONNECT.
let stopping = false;
const stop = async (signal: NodeJS.Signals): Promise<void> => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'draining');
  await worker.close();
  await new Promise((resolve) => metrics.close(resolve));
  log.info({ answered: worker.stats }, 'stopped');
};
process.once('SIGTERM', (s) => void stop(s));
process.once('SIGINT', (s) => void stop(s));

log.info({ broker: flags.broker, service: flags.service, curve: security !== undefined, metrics: metricsUrl }, 'ready');
const err = await worker.closed();
if (err !== undefined) {
  log.error({ err }, 'worker gave up');
  process.exitCode = 1;
  await new Promise((resolve) => metrics.close(resolve));
}
