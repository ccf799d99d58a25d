/**
 * mdbroker: the broker under the book's C peers. C `mdworker` x `--workers` (10) and
 * `mdclient2_n` sending `--requests` (100,000) against the C `mdbroker`, our `mdbroker`, and
 * `bare-mdbroker` (the same socket calls with no bookkeeping: the floor of a zeromq.js broker).
 * The process under test is the broker.
 */
import { join } from 'node:path';
import { appScript, peerScript } from '../lib/peer.js';
import { alternate, runTrial, trialScript, type Contender, type Shape } from './harness.js';

export const shape: Shape = {
  name: 'mdbroker',
  description: 'the broker: C mdworker x 10 and mdclient2 (100,000 requests) through each broker',
  programs: ['mdbroker', 'mdworker', 'mdclient2_n'],
  async run(ctx, cbin, rounds) {
    const workers = typeof ctx.flags['workers'] === 'string' ? ctx.flags['workers'] : '10';
    const requests = String(ctx.requests ?? 100_000);
    const env = { WORKERS: workers, REQUESTS: requests };
    const node = process.execPath;
    const contender = (name: string, kind: Contender['kind'], server: string[]): Contender => ({
      name,
      kind,
      trial: () => runTrial(`mdbroker ${name}`, 'sh', [trialScript('vs-c-trial.sh'), 'md', cbin, ...server], env),
    });
    const cases = await alternate(
      ctx,
      `mdbroker, ${workers} C workers`,
      [
        contender('C mdbroker', 'c', [join(cbin, 'mdbroker')]),
        contender('mdbroker', 'ours', [
          node,
          appScript('mdbroker'),
          '--bind',
          'tcp://127.0.0.1:5555',
          '--log-level',
          'warn',
        ]),
        contender('bare-mdbroker (floor)', 'floor', [node, peerScript('bare-mdbroker'), 'tcp://127.0.0.1:5555']),
      ],
      rounds,
    );
    return { cases };
  },
};
