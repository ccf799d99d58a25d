/**
 * Majordomo echo workers for the `mdp` benchmark's scaling case: `--services N` services named
 * `<prefix><i>`, `--per-service M` workers each, all in this one process (the 1- and 10-worker
 * cases use one `zpat worker echo` process per worker instead).
 *
 *   node mdp-workers.js --broker EP [--services 1000] [--per-service 1] [--prefix svc-] [--mdp 0.1]
 */
import { parseArgs } from 'node:util';
import { MajordomoWorker, type MdpVersion } from '@zpatterns/majordomo';

const { values } = parseArgs({
  options: {
    broker: { type: 'string' },
    services: { type: 'string', default: '1' },
    'per-service': { type: 'string', default: '1' },
    prefix: { type: 'string', default: 'svc-' },
    mdp: { type: 'string', default: '0.1' },
  },
});
if (values.broker === undefined) throw new Error('--broker is required');
const version = values.mdp as MdpVersion;
const workers: MajordomoWorker[] = [];
for (let s = 0; s < Number(values.services); s++) {
  for (let w = 0; w < Number(values['per-service']); w++) {
    const worker = new MajordomoWorker({
      broker: values.broker,
      service: `${values.prefix}${s}`,
      version,
      handler: (request) => request,
    });
    await worker.start();
    workers.push(worker);
  }
}
process.stdout.write(`${JSON.stringify({ ready: true, workers: workers.length })}\n`);
const stop = (): void => {
  void Promise.all(workers.map((w) => w.close())).then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
